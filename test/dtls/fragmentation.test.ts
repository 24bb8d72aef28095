// Handshake fragmentation and reassembly: out-of-order, duplicate and overlapping fragments, old
// messages that signal a repeated flight, and whole flights packed under a small MTU.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { packFlight, type Flight } from '../../src/dtls/flights/flight';
import { fragmentMessage, Reassembler } from '../../src/dtls/handshake/fragmentation';
import { decodeHandshakeFragments } from '../../src/dtls/handshake/header';
import { ContentType, splitRecords } from '../../src/dtls/record/header';
import { RecordLayer } from '../../src/dtls/record/record-layer';

const body = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

test('a message split into fragments reassembles from reverse order, with duplicates and overlaps', () => {
  const fragments = fragmentMessage({ msgType: 1, messageSeq: 0, body }, 30);
  assert.deepEqual(
    fragments.map((f) => [f.fragmentOffset, f.body.length]),
    [
      [0, 30],
      [30, 30],
      [60, 30],
      [90, 10],
    ],
  );
  const reassembler = new Reassembler();
  const overlap = { msgType: 1, length: 100, messageSeq: 0, fragmentOffset: 25, body: body.subarray(25, 65) };
  assert.equal(reassembler.add(fragments[3]!), 'buffered');
  assert.equal(reassembler.add(overlap), 'buffered');
  assert.equal(reassembler.add(fragments[3]!), 'duplicate');
  assert.equal(reassembler.takeNext(), null, 'incomplete until every byte is here');
  assert.equal(reassembler.add(fragments[2]!), 'buffered');
  assert.equal(reassembler.add(fragments[0]!), 'buffered');
  assert.equal(reassembler.add(fragments[1]!), 'duplicate', 'already covered by the overlap and its neighbours');
  const message = reassembler.takeNext();
  assert.deepEqual(message, { msgType: 1, messageSeq: 0, body });
  assert.equal(reassembler.takeNext(), null);
  assert.equal(reassembler.add(fragments[0]!), 'old', 'a fragment of a delivered message means the peer repeats its flight');
});

test('messages are released in message_seq order, an empty message included', () => {
  const reassembler = new Reassembler();
  const done = fragmentMessage({ msgType: 14, messageSeq: 1, body: Buffer.alloc(0) }, 30);
  assert.equal(done.length, 1);
  assert.equal(reassembler.add(done[0]!), 'buffered');
  assert.equal(reassembler.add(done[0]!), 'duplicate');
  assert.equal(reassembler.takeNext(), null, 'message 0 is still missing');
  for (const fragment of fragmentMessage({ msgType: 2, messageSeq: 0, body }, 64)) reassembler.add(fragment);
  assert.equal(reassembler.takeNext()!.msgType, 2);
  assert.deepEqual(reassembler.takeNext(), { msgType: 14, messageSeq: 1, body: Buffer.alloc(0) });
  assert.equal(reassembler.expectedSeq, 2);
});

test('fragments that contradict their message, lie too far ahead or claim a huge message are rejected', () => {
  const reassembler = new Reassembler();
  const [first] = fragmentMessage({ msgType: 1, messageSeq: 0, body }, 30);
  reassembler.add(first!);
  assert.equal(reassembler.add({ ...first!, msgType: 2 }), 'rejected');
  assert.equal(reassembler.add({ ...first!, length: 99 }), 'rejected');
  assert.equal(reassembler.add({ ...first!, messageSeq: 8 }), 'rejected');
  assert.equal(reassembler.add({ ...first!, messageSeq: 1, length: 1 << 20 }), 'rejected');
});

test('skipTo starts a server at the message_seq of a cookie-bearing ClientHello', () => {
  const reassembler = new Reassembler();
  reassembler.skipTo(1);
  const [hello] = fragmentMessage({ msgType: 1, messageSeq: 1, body }, 200);
  assert.equal(reassembler.add(hello!), 'buffered');
  assert.equal(reassembler.takeNext()!.messageSeq, 1);
});

test('a flight packed under a 120-byte limit fits every datagram and reassembles to the same messages', () => {
  const records = new RecordLayer({ onRecord: () => {} });
  const big = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff));
  const flight: Flight = {
    number: 4,
    items: [
      { kind: 'handshake', epoch: 0, message: { msgType: 2, messageSeq: 1, body: big } },
      { kind: 'handshake', epoch: 0, message: { msgType: 14, messageSeq: 2, body: Buffer.alloc(0) } },
    ],
    last: false,
  };
  const datagrams = packFlight(flight, records, 120);
  assert.ok(datagrams.length >= 3);
  const reassembler = new Reassembler(1);
  for (const datagram of datagrams.reverse()) {
    assert.ok(datagram.length <= 120, `datagram of ${datagram.length} bytes`);
    const { records: parsed, error } = splitRecords(datagram);
    assert.equal(error, null);
    for (const record of parsed) {
      assert.equal(record.header.contentType, ContentType.handshake);
      const fragments = decodeHandshakeFragments(record.fragment);
      assert.ok(fragments.ok);
      for (const fragment of fragments.value) reassembler.add(fragment);
    }
  }
  assert.deepEqual(reassembler.takeNext(), { msgType: 2, messageSeq: 1, body: big });
  assert.deepEqual(reassembler.takeNext(), { msgType: 14, messageSeq: 2, body: Buffer.alloc(0) });
  const sequences = datagrams.flatMap((d) => splitRecords(d).records.map((r) => r.header.sequenceNumber)).sort((a, b) => a - b);
  assert.deepEqual(sequences, [...sequences.keys()], 'each record its own sequence number');
});
