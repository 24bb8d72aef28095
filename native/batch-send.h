// Batched UDP sends shared by native/udp.cc (datagrams JavaScript sealed) and native/tun.cc
// (records the native send path sealed): one sendmmsg(2) per 64 messages, runs of equal-sized
// datagrams to one destination as one UDP_SEGMENT (GSO) message each.
#pragma once

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>

#include <cstdint>
#include <utility>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace batch {

// Messages per sendmmsg call; a longer list goes out in several calls.
constexpr uint32_t kChunk = 64;
// Datagrams one GSO message carries at most (the kernel's UDP_MAX_SEGMENTS is 64 before 6.9).
constexpr uint32_t kMaxSegments = 64;
// A GSO message's payload at most: the largest UDP payload over IPv4.
constexpr size_t kMaxGsoBytes = 65507;
// GSO sends the kernel refused: EIO (the route's device lacks checksum offload) at once, or a
// segment over the path MTU (EINVAL) again and again, stops GSO for every later batch. Each addon
// that includes this keeps its own state; src/net/udp-transport.ts reports native/udp.cc's.
inline uint32_t gsoFailures = 0;
inline bool gsoRefused = false;
// The errno of the send that stopped GSO, for the caller's log and status.
inline int gsoRefusedErrno = 0;
constexpr uint32_t kGsoFailureLimit = 16;

// One sendmmsg message: datagrams [first, first + count) of the batch, GSO when count > 1.
struct Run {
  uint32_t first;
  uint32_t count;
};

// Sends datagrams [0, count): vectors[i] to addresses[i] (callers pass one pointer per destination,
// so a run is found by comparing pointers); gso: whether runs may leave as GSO messages. Returns
// how many left; a datagram the kernel refuses is lost as UDP loses it, never an error here.
inline uint32_t Send(int fd, iovec* vectors, const std::pair<void*, socklen_t>* addresses, uint32_t count, bool gso) {
  mmsghdr messages[kChunk];
  Run runs[kChunk];
  alignas(cmsghdr) char controls[kChunk][CMSG_SPACE(sizeof(uint16_t))];
  uint32_t sent = 0;
  uint32_t next = 0;
  gso = gso && !gsoRefused;
  while (next < count) {
    // Runs: equal sizes to one destination, the last of a run may be shorter.
    uint32_t chunk = 0;
    uint32_t at = next;
    while (at < count && chunk < kChunk) {
      Run run{at, 1};
      size_t size = vectors[at].iov_len;
      size_t bytes = size;
      while (gso && run.first + run.count < count && run.count < kMaxSegments && size > 0) {
        uint32_t candidate = run.first + run.count;
        size_t length = vectors[candidate].iov_len;
        if (addresses[candidate].first != addresses[at].first || length > size || length == 0 || bytes + length > kMaxGsoBytes) break;
        run.count++;
        bytes += length;
        if (length < size) break;
      }
      mmsghdr& message = messages[chunk];
      memset(&message, 0, sizeof(message));
      message.msg_hdr.msg_name = addresses[at].first;
      message.msg_hdr.msg_namelen = addresses[at].second;
      message.msg_hdr.msg_iov = &vectors[at];
      message.msg_hdr.msg_iovlen = run.count;
      if (run.count > 1) {
        message.msg_hdr.msg_control = controls[chunk];
        message.msg_hdr.msg_controllen = sizeof(controls[chunk]);
        cmsghdr* control = CMSG_FIRSTHDR(&message.msg_hdr);
        control->cmsg_level = SOL_UDP;
        control->cmsg_type = UDP_SEGMENT;
        control->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t segment = static_cast<uint16_t>(size);
        memcpy(CMSG_DATA(control), &segment, sizeof(segment));
      }
      runs[chunk++] = run;
      at += run.count;
    }
    uint32_t done = 0;
    bool retry = false;
    while (done < chunk) {
      int result = sendmmsg(fd, messages + done, chunk - done, MSG_DONTWAIT);
      if (result < 0) {
        if (errno == EINTR) continue;
        // A full buffer stays full for the rest of this batch.
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        // A refused GSO message goes again as single datagrams, with the rest of the batch.
        if (runs[done].count > 1) {
          gso = false;
          if (errno == EIO || ++gsoFailures >= kGsoFailureLimit) {
            gsoRefused = true;
            gsoRefusedErrno = errno;
          }
          next = runs[done].first;
          retry = true;
          break;
        }
        // Any other error belongs to this datagram alone, so skip it and go on.
        done++;
        continue;
      }
      for (int i = 0; i < result; i++) sent += runs[done + i].count;
      done += static_cast<uint32_t>(result);
    }
    if (retry) continue;
    next = at;
  }
  return sent;
}

}  // namespace batch
