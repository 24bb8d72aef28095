// DTLS record header codec (RFC 6347 4.1) and splitting a datagram into its records.
//
//  0        1        2        3        4        5 ... 10      11       12
// +--------+--------+--------+--------+--------+-----------+--------+--------+
// |  type  |     version     |      epoch      | seq (48)  |     length      |
// +--------+--------+--------+--------+--------+-----------+--------+--------+
// followed by `length` bytes of fragment (plaintext in epoch 0, explicit nonce + ciphertext + tag after).

export const RECORD_HEADER_LENGTH = 13;
/** RFC 5246 6.2.1: a plaintext fragment is at most 2^14 bytes. */
export const MAX_PLAINTEXT_LENGTH = 16384;
/** RFC 5246 6.2.3: protection may add at most 2048 bytes. */
export const MAX_CIPHERTEXT_LENGTH = MAX_PLAINTEXT_LENGTH + 2048;
export const MAX_SEQUENCE_NUMBER = 2 ** 48 - 1;
export const MAX_EPOCH = 0xffff;

export const ContentType = {
  changeCipherSpec: 20,
  alert: 21,
  handshake: 22,
  applicationData: 23,
} as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

/** DTLS 1.0's number still appears on the wire: OpenSSL sends HelloVerifyRequest and its first ClientHello with it. */
export const ProtocolVersion = { dtls10: 0xfeff, dtls12: 0xfefd } as const;

export interface RecordHeader {
  contentType: ContentType;
  version: number;
  epoch: number;
  sequenceNumber: number;
  length: number;
}

export interface DtlsRecord {
  header: RecordHeader;
  /** A view into the datagram, not a copy. */
  fragment: Buffer;
}

export type RecordErrorReason =
  | 'truncated_header'
  | 'truncated_fragment'
  | 'unknown_content_type'
  | 'bad_version'
  | 'too_long'
  | 'sequence_exhausted';

/** What a header on the wire can get wrong (the rest are our own limits when sealing). */
export type HeaderProblem = Exclude<RecordErrorReason, 'sequence_exhausted'>;

export class RecordError extends Error {
  override readonly name = 'RecordError';
  constructor(
    readonly reason: RecordErrorReason,
    message: string,
  ) {
    super(message);
  }
}

function isContentType(value: number): value is ContentType {
  return value >= ContentType.changeCipherSpec && value <= ContentType.applicationData;
}

function isDtlsVersion(version: number): boolean {
  return version === ProtocolVersion.dtls12 || version === ProtocolVersion.dtls10;
}

/** Reads a 48-bit big-endian number; exact because 2^48 < 2^53 and no 32-bit operator sees it whole. */
export function readUint48(bytes: Uint8Array, offset: number): number {
  const high = (bytes[offset]! << 8) | bytes[offset + 1]!;
  const low = ((bytes[offset + 2]! << 24) | (bytes[offset + 3]! << 16) | (bytes[offset + 4]! << 8) | bytes[offset + 5]!) >>> 0;
  return high * 0x1_0000_0000 + low;
}

export function writeUint48(value: number, bytes: Uint8Array, offset: number): void {
  const high = Math.floor(value / 0x1_0000_0000);
  const low = value - high * 0x1_0000_0000;
  bytes[offset] = high >>> 8;
  bytes[offset + 1] = high & 0xff;
  bytes[offset + 2] = low >>> 24;
  bytes[offset + 3] = (low >>> 16) & 0xff;
  bytes[offset + 4] = (low >>> 8) & 0xff;
  bytes[offset + 5] = low & 0xff;
}

/**
 * Checks the header at `offset` without allocating: returns the record's total length (header plus
 * fragment) or the reason it is unusable. The record layer's receive loop uses this directly.
 */
export function checkRecordHeader(
  bytes: Uint8Array,
  offset: number,
): number | HeaderProblem {
  const remaining = bytes.length - offset;
  if (remaining < RECORD_HEADER_LENGTH) return 'truncated_header';
  if (!isContentType(bytes[offset]!)) return 'unknown_content_type';
  if (!isDtlsVersion((bytes[offset + 1]! << 8) | bytes[offset + 2]!)) return 'bad_version';
  const length = (bytes[offset + 11]! << 8) | bytes[offset + 12]!;
  if (length > MAX_CIPHERTEXT_LENGTH) return 'too_long';
  if (remaining - RECORD_HEADER_LENGTH < length) return 'truncated_fragment';
  return RECORD_HEADER_LENGTH + length;
}

function describe(reason: HeaderProblem, bytes: Uint8Array, offset: number): string {
  const remaining = bytes.length - offset;
  switch (reason) {
    case 'truncated_header':
      return `record header needs ${RECORD_HEADER_LENGTH} bytes at offset ${offset}, only ${remaining} left`;
    case 'unknown_content_type':
      return `record at offset ${offset} has content type ${bytes[offset]}, expected 20 to 23`;
    case 'bad_version':
      return `record at offset ${offset} has version 0x${((bytes[offset + 1]! << 8) | bytes[offset + 2]!).toString(16)}, expected DTLS 0xfefd or 0xfeff`;
    case 'too_long':
      return `record at offset ${offset} claims ${(bytes[offset + 11]! << 8) | bytes[offset + 12]!} bytes, more than ${MAX_CIPHERTEXT_LENGTH}`;
    case 'truncated_fragment':
      return `record at offset ${offset} claims ${(bytes[offset + 11]! << 8) | bytes[offset + 12]!} bytes, only ${remaining - RECORD_HEADER_LENGTH} follow its header`;
  }
}

export function decodeRecordHeader(bytes: Uint8Array, offset = 0): RecordHeader | RecordError {
  const checked = checkRecordHeader(bytes, offset);
  if (typeof checked === 'string') return new RecordError(checked, describe(checked, bytes, offset));
  return {
    contentType: bytes[offset] as ContentType,
    version: (bytes[offset + 1]! << 8) | bytes[offset + 2]!,
    epoch: (bytes[offset + 3]! << 8) | bytes[offset + 4]!,
    sequenceNumber: readUint48(bytes, offset + 5),
    length: checked - RECORD_HEADER_LENGTH,
  };
}

export function encodeRecordHeader(header: RecordHeader, out: Uint8Array, offset = 0): void {
  writeRecordHeader(out, offset, header.contentType, header.version, header.epoch, header.sequenceNumber, header.length);
}

/** encodeRecordHeader without the header object, for the per-packet send path. */
export function writeRecordHeader(
  out: Uint8Array,
  offset: number,
  contentType: ContentType,
  version: number,
  epoch: number,
  sequenceNumber: number,
  length: number,
): void {
  out[offset] = contentType;
  out[offset + 1] = version >>> 8;
  out[offset + 2] = version & 0xff;
  out[offset + 3] = epoch >>> 8;
  out[offset + 4] = epoch & 0xff;
  writeUint48(sequenceNumber, out, offset + 5);
  out[offset + 11] = length >>> 8;
  out[offset + 12] = length & 0xff;
}

/** A whole unprotected record (epoch 0 traffic, or a stateless HelloVerifyRequest) in a fresh buffer. */
export function encodePlaintextRecord(
  header: Omit<RecordHeader, 'length'>,
  fragment: Uint8Array,
): Buffer {
  if (fragment.length > MAX_PLAINTEXT_LENGTH) {
    throw new RecordError('too_long', `record fragment of ${fragment.length} bytes exceeds ${MAX_PLAINTEXT_LENGTH}`);
  }
  const record = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + fragment.length);
  encodeRecordHeader({ ...header, length: fragment.length }, record, 0);
  record.set(fragment, RECORD_HEADER_LENGTH);
  return record;
}

/**
 * All records of a datagram, in order. A malformed header ends the walk (its length cannot be
 * trusted), so `error` reports it and `records` holds the good records before it.
 */
export function splitRecords(datagram: Buffer): { records: DtlsRecord[]; error: RecordError | null } {
  const records: DtlsRecord[] = [];
  let offset = 0;
  while (offset < datagram.length) {
    const header = decodeRecordHeader(datagram, offset);
    if (header instanceof RecordError) return { records, error: header };
    const start = offset + RECORD_HEADER_LENGTH;
    records.push({ header, fragment: datagram.subarray(start, start + header.length) });
    offset = start + header.length;
  }
  return { records, error: null };
}
