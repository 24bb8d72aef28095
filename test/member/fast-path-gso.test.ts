// The native send path's UDP GSO, when the kernel stops it (a device without checksum offload):
// the member says so once in its log and in status, as the socket's own sends do. The kernel's
// refusal cannot be caused here without changing a shared device, so the addons are stood in for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock';
import type { NativeReceive } from '../../src/net/transport';
import { FastPath } from '../../src/member/fast-path';
import { DEFAULT_TIMINGS } from '../../src/member/main';
import { PeerStore } from '../../src/member/peer-store';
import { parseVpnAddress } from '../../src/member/vpn-address';
import { ChannelDevice } from '../../src/tun/channel-device';
import type { NativeSend, NativeSendCounters } from '../../src/tun/device';
import { capturedLogger } from './harness';

const EIO = 5;

function addons(send: NativeSendCounters): { receive: NativeReceive; nativeSend: NativeSend } {
  const receive: NativeReceive = {
    socketFd: 7,
    sockaddr: () => null,
    attachDevice: () => {},
    arm: () => false,
    disarm: () => null,
    sessionCounters: () => ({ packets: 0, bytes: 0 }),
    counters: () => ({ packets: 0, bytes: 0, openedUp: 0, droppedReplay: 0, droppedAuth: 0, malformed: 0, deviceDrops: 0, armed: 0 }),
    onOpened: () => {},
  };
  const nativeSend: NativeSend = {
    attachSocket: () => {},
    arm: () => false,
    disarm: () => null,
    takeSequence: () => null,
    sessionCounters: () => ({ packets: 0, bytes: 0 }),
    counters: () => ({ ...send }),
  };
  return { receive, nativeSend };
}

test('a GSO refusal on the native send path is logged once and shown in status; none while GSO works', () => {
  const send: NativeSendCounters = { sent: 10, refused: 0, armed: 1, gsoRefusedErrno: 0 };
  const { receive, nativeSend } = addons(send);
  const device = Object.assign(new ChannelDevice('tun-gso'), { descriptor: { fd: 9, vnet: false }, nativeSend });
  const store = new PeerStore(parseVpnAddress('192.168.50.1')!, DEFAULT_TIMINGS, () => true);
  const { log, capture } = capturedLogger();
  const fastPath = new FastPath(receive, device, store, new ManualClock(), log);
  const warnings = () => capture.lines.filter((line) => line.level === 'warn');

  fastPath.sync();
  assert.equal(fastPath.status().sendProblem, '');
  assert.deepEqual(warnings(), []);

  send.gsoRefusedErrno = EIO;
  fastPath.sync();
  fastPath.sync();
  assert.equal(warnings().length, 1, 'said once');
  assert.match(String(warnings()[0]?.reason), /UDP GSO is off \(EIO: the outgoing device lacks checksum offload\)/);
  assert.match(fastPath.status().sendProblem, /^UDP GSO is off \(EIO/);
});
