// The datagrams a member sends outside any DTLS session: the `hello` that opens NATs and the
// keepalive for original peers. Both are shaped so that pion, which every original member runs,
// discards them silently in every state (see the closing notes of issue 10 and docs on hazards).
//
// pion v2 splits each datagram into records before anything else (recordlayer.UnpackDatagram):
// a datagram, or what is left after whole records, of 13 bytes or fewer, or a record whose length
// runs past the end, is a read error, which an original member treats as fatal. So a plain
// `hello` or a one-byte datagram kills an original peer that holds a session with us. A whole
// record whose epoch is far ahead is dropped by pion's handleIncomingPacket ("discarded future
// packet") before it looks at the content, whether a handshake is under way or done; and from an
// address it holds no session with, the original's accept filter takes only handshake records.

/**
 * No content type TLS assigns (RFC 8446's registry starts at 20): a capture never shows these as
 * alerts or data, the member's fast path (application data from an established peer) never sees
 * them, and an original member's accept filter (handshake records only) never opens a session.
 */
const UNASSIGNED_CONTENT_TYPE = 0;
/** The record header fields pion checks first: a version it accepts, and an epoch it never reaches. */
const DTLS_1_2 = [0xfe, 0xfd] as const;
const FAR_FUTURE_EPOCH = 0xffff;
const RECORD_HEADER_BYTES = 13;

/** One whole DTLS 1.2 record carrying `payload` in an epoch no session reaches. */
function unreachableEpochRecord(payload: Buffer): Buffer {
  const record = Buffer.alloc(RECORD_HEADER_BYTES + payload.length);
  record[0] = UNASSIGNED_CONTENT_TYPE;
  record[1] = DTLS_1_2[0];
  record[2] = DTLS_1_2[1];
  record.writeUInt16BE(FAR_FUTURE_EPOCH, 3);
  record.writeUInt16BE(payload.length, 11);
  payload.copy(record, RECORD_HEADER_BYTES);
  return record;
}

/** What a DTLS server sends to open its NAT toward a peer: 18 bytes, safe toward original peers. */
export const HELLO = unreachableEpochRecord(Buffer.from('hello'));

/** The `hello` of original members (and of ours before issue 10): five plain bytes, still accepted. */
export const PLAIN_HELLO = Buffer.from('hello');

/**
 * The keepalive for an original peer (14 bytes). Not HELLO, which tells its receiver that the
 * sender is punching (a restart); our own peers get an authenticated empty record instead.
 */
export const ORIGINAL_KEEPALIVE = unreachableEpochRecord(Buffer.of(0));

export function isHello(datagram: Buffer): boolean {
  return datagram.equals(HELLO) || datagram.equals(PLAIN_HELLO);
}

/**
 * The largest datagram an original member can read: pion reads into an 8,192-byte buffer, so a
 * longer datagram arrives cut short, fails to split into records, and ends its process.
 */
export const ORIGINAL_MAX_DATAGRAM_BYTES = 8192;
