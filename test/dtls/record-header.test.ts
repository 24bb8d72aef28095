// Record header codec tests: round trips on real captured bytes, 48-bit fields at their limits, and
// every way a datagram can fail to hold whole records.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import {
  checkRecordHeader,
  ContentType,
  decodeRecordHeader,
  encodePlaintextRecord,
  encodeRecordHeader,
  MAX_CIPHERTEXT_LENGTH,
  MAX_SEQUENCE_NUMBER,
  ProtocolVersion,
  readUint48,
  RecordError,
  splitRecords,
  writeUint48,
  type RecordHeader,
} from '../../src/dtls/record/header';

// pion's ChangeCipherSpec (epoch 0, seq 4) followed by its encrypted Finished (epoch 1, seq 0), as captured.
const capturedFlight = Buffer.from(
  '14fefd0000000000000004000101' +
    '16fefd00010000000000000028220a262e3cb96cfb0e593f94fb2d68433f577646b92564c7154877dcc4bf8c5efac8e687280d468a',
  'hex',
);

function header(overrides: Partial<RecordHeader> = {}): RecordHeader {
  return { contentType: ContentType.handshake, version: ProtocolVersion.dtls12, epoch: 0, sequenceNumber: 0, length: 0, ...overrides };
}

test('a captured datagram splits into its ChangeCipherSpec and Finished records', () => {
  const { records, error } = splitRecords(capturedFlight);
  assert.equal(error, null);
  assert.equal(records.length, 2);
  assert.deepEqual(records[0]!.header, header({ contentType: ContentType.changeCipherSpec, sequenceNumber: 4, length: 1 }));
  assert.deepEqual(records[0]!.fragment, Buffer.from([1]));
  assert.deepEqual(records[1]!.header, header({ epoch: 1, length: 40 }));
  assert.equal(records[1]!.fragment.length, 40);
});

test('a header round-trips through encode and decode, sequence and epoch at their maxima', () => {
  const values = header({
    contentType: ContentType.applicationData,
    version: ProtocolVersion.dtls10,
    epoch: 0xffff,
    sequenceNumber: MAX_SEQUENCE_NUMBER,
    length: MAX_CIPHERTEXT_LENGTH,
  });
  const bytes = Buffer.alloc(13 + MAX_CIPHERTEXT_LENGTH);
  encodeRecordHeader(values, bytes, 0);
  assert.equal(bytes.subarray(0, 13).toString('hex'), '17feffffffffffffffffff4800');
  assert.deepEqual(decodeRecordHeader(bytes), values);
});

test('48-bit numbers survive values a 32-bit shift would corrupt', () => {
  const bytes = Buffer.alloc(6);
  for (const value of [0, 1, 0xffffffff, 2 ** 32, 2 ** 40 + 12345, MAX_SEQUENCE_NUMBER]) {
    writeUint48(value, bytes, 0);
    assert.equal(bytes.readUIntBE(0, 6), value);
    assert.equal(readUint48(bytes, 0), value);
  }
});

test('an encoded plaintext record carries its fragment and its length', () => {
  const record = encodePlaintextRecord({ contentType: ContentType.alert, version: ProtocolVersion.dtls12, epoch: 0, sequenceNumber: 9 }, Buffer.from([2, 40]));
  assert.equal(record.toString('hex'), '15fefd00000000000000090002' + '0228');
  assert.throws(() => encodePlaintextRecord(header(), Buffer.alloc(16385)), RecordError);
});

const malformed: Array<{ name: string; bytes: Buffer; reason: RecordError['reason'] }> = [
  { name: 'a plain "hello" is too short for a header', bytes: Buffer.from('hello'), reason: 'truncated_header' },
  { name: 'twelve bytes are one short of a header', bytes: capturedFlight.subarray(0, 12), reason: 'truncated_header' },
  { name: 'content type 24 is unknown', bytes: Buffer.from('18fefd00000000000000000000', 'hex'), reason: 'unknown_content_type' },
  { name: 'content type 0 is unknown', bytes: Buffer.from('00fefd00000000000000000000', 'hex'), reason: 'unknown_content_type' },
  { name: 'TLS 1.2 (0x0303) is not a DTLS version', bytes: Buffer.from('16030300000000000000000000', 'hex'), reason: 'bad_version' },
  { name: 'a length above 2^14 + 2048 is refused', bytes: Buffer.from('17fefd00010000000000004801', 'hex'), reason: 'too_long' },
  { name: 'a fragment shorter than its length is truncated', bytes: capturedFlight.subarray(0, 13), reason: 'truncated_fragment' },
];

for (const { name, bytes, reason } of malformed) {
  test(`decodeRecordHeader: ${name}`, () => {
    const decoded = decodeRecordHeader(bytes);
    assert.ok(decoded instanceof RecordError);
    assert.equal(decoded.reason, reason);
    assert.equal(checkRecordHeader(bytes, 0), reason);
    assert.ok(decoded.message.length > 0);
  });
}

test('records before a truncated one are kept and the truncation is reported', () => {
  const { records, error } = splitRecords(capturedFlight.subarray(0, capturedFlight.length - 1));
  assert.equal(records.length, 1);
  assert.equal(records[0]!.header.contentType, ContentType.changeCipherSpec);
  assert.ok(error instanceof RecordError);
  assert.equal(error.reason, 'truncated_fragment');
  assert.match(error.message, /offset 14 claims 40 bytes, only 39 follow/);
});

test('an empty datagram holds no records and no error', () => {
  assert.deepEqual(splitRecords(Buffer.alloc(0)), { records: [], error: null });
});
