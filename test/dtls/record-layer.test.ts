// RecordLayer tests for every suite: epoch switching inside one datagram, retransmission in an old
// epoch, and every drop reason (replay, bad tag, malformed, wrong epoch) counted without side effects.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { CIPHER_SUITES, type CipherSuite } from '../../src/dtls/cipher/suites';
import { expandKeyBlock } from '../../src/dtls/prf';
import { ContentType, RecordError, type ContentType as ContentTypeValue } from '../../src/dtls/record/header';
import { RecordLayer, type RecordReceiver } from '../../src/dtls/record/record-layer';

class Collector implements RecordReceiver {
  readonly records: Array<{ contentType: ContentTypeValue; epoch: number; payload: Buffer }> = [];
  readonly layer: RecordLayer;

  constructor() {
    this.layer = new RecordLayer(this);
  }

  onRecord(contentType: ContentTypeValue, epoch: number, payload: Buffer): void {
    this.records.push({ contentType, epoch, payload: Buffer.from(payload) });
    if (contentType === ContentType.changeCipherSpec && this.layer.hasPendingRead) this.layer.activateRead();
  }
}

/** Two layers with keys installed and both write directions already switched to epoch 1. */
function establishedPair(suite: CipherSuite): { client: Collector; server: Collector } {
  const client = new Collector();
  const server = new Collector();
  const keys = expandKeyBlock(suite, randomBytes(48), randomBytes(32), randomBytes(32));
  client.layer.setPendingKeys(suite, keys, 'client');
  server.layer.setPendingKeys(suite, keys, 'server');
  for (const side of [client, server]) {
    const changeCipherSpec = side.layer.seal(ContentType.changeCipherSpec, Buffer.from([1]));
    side.layer.activateWrite();
    (side === client ? server : client).layer.openDatagram(changeCipherSpec);
  }
  client.records.length = 0;
  server.records.length = 0;
  return { client, server };
}

const copy = (bytes: Buffer): Buffer => Buffer.from(bytes);

for (const suite of CIPHER_SUITES) {
  test(`${suite.name}: application data of 1 to 16,384 bytes and an empty alert arrive intact`, () => {
    const { client, server } = establishedPair(suite);
    for (const length of [1, 100, 1200, 1400, 16384]) {
      const payload = randomBytes(length);
      const record = client.layer.seal(ContentType.applicationData, payload);
      assert.equal(record.length, length + client.layer.overhead());
      assert.equal(client.layer.overhead(), 13 + suite.explicitNonceLength + suite.tagLength);
      server.layer.openDatagram(record);
      assert.deepEqual(server.records.at(-1), { contentType: ContentType.applicationData, epoch: 1, payload });
      client.layer.openDatagram(server.layer.seal(ContentType.applicationData, payload));
      assert.deepEqual(client.records.at(-1)!.payload, payload);
    }
    const empty = client.layer.seal(ContentType.alert, Buffer.alloc(0));
    server.layer.openDatagram(empty);
    assert.deepEqual(server.records.at(-1), { contentType: ContentType.alert, epoch: 1, payload: Buffer.alloc(0) });
    // Each side also counts the ChangeCipherSpec of the setup.
    assert.equal(server.layer.counters.recordsIn, 7);
    assert.equal(client.layer.counters.recordsOut, 7);
  });

  test(`${suite.name}: ChangeCipherSpec and Finished in one datagram switch the read epoch between them`, () => {
    const client = new Collector();
    const server = new Collector();
    const keys = expandKeyBlock(suite, randomBytes(48), randomBytes(32), randomBytes(32));
    client.layer.setPendingKeys(suite, keys, 'client');
    server.layer.setPendingKeys(suite, keys, 'server');
    const keyExchange = client.layer.seal(ContentType.handshake, Buffer.from('client key exchange'));
    const changeCipherSpec = client.layer.seal(ContentType.changeCipherSpec, Buffer.from([1]));
    client.layer.activateWrite();
    const finished = client.layer.seal(ContentType.handshake, Buffer.from('finished'));
    assert.equal(finished.readUInt16BE(3), 1, 'Finished goes out in epoch 1');
    assert.equal(client.layer.writeEpoch, 1);
    server.layer.openDatagram(Buffer.concat([keyExchange, changeCipherSpec, finished]));
    assert.deepEqual(
      server.records.map((record) => [record.contentType, record.epoch, record.payload.toString()]),
      [
        [ContentType.handshake, 0, 'client key exchange'],
        [ContentType.changeCipherSpec, 0, '\x01'],
        [ContentType.handshake, 1, 'finished'],
      ],
    );
    assert.equal(server.layer.readEpoch, 1);
  });

  test(`${suite.name}: a replayed record is dropped and counted, the original delivered once`, () => {
    const { client, server } = establishedPair(suite);
    const record = client.layer.seal(ContentType.applicationData, Buffer.from('ping'));
    const replay = copy(record);
    server.layer.openDatagram(record);
    server.layer.openDatagram(replay);
    assert.equal(server.records.length, 1);
    assert.equal(server.layer.counters.droppedReplay, 1);
  });

  test(`${suite.name}: a record with a bad tag is dropped and does not move the replay window`, () => {
    const { client, server } = establishedPair(suite);
    const first = client.layer.seal(ContentType.applicationData, Buffer.from('one'));
    const second = client.layer.seal(ContentType.applicationData, Buffer.from('two'));
    const forged = copy(second);
    forged[forged.length - 1]! ^= 0x80;
    server.layer.openDatagram(forged);
    // A forged record claiming a far-ahead sequence number must not shut out the real ones.
    const farAhead = copy(first);
    farAhead.writeUIntBE(2 ** 47, 5, 6);
    server.layer.openDatagram(farAhead);
    assert.equal(server.layer.counters.droppedAuth, 2);
    server.layer.openDatagram(first);
    server.layer.openDatagram(second);
    assert.deepEqual(server.records.map((record) => record.payload.toString()), ['one', 'two']);
  });

  test(`${suite.name}: a record too short for its nonce and tag is malformed, the next one still opens`, () => {
    const { client, server } = establishedPair(suite);
    const short = Buffer.from([ContentType.applicationData, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 3, 1, 2, 3]);
    server.layer.openDatagram(Buffer.concat([short, client.layer.seal(ContentType.applicationData, Buffer.from('ok'))]));
    assert.equal(server.layer.counters.droppedMalformed, 1);
    assert.deepEqual(server.records.map((record) => record.payload.toString()), ['ok']);
  });
}

const [anySuite] = CIPHER_SUITES;

test('records of a future or unknown epoch are dropped as epoch, before the peer switches', () => {
  const client = new Collector();
  const server = new Collector();
  const keys = expandKeyBlock(anySuite!, randomBytes(48), randomBytes(32), randomBytes(32));
  client.layer.setPendingKeys(anySuite!, keys, 'client');
  server.layer.setPendingKeys(anySuite!, keys, 'server');
  client.layer.activateWrite();
  server.layer.openDatagram(client.layer.seal(ContentType.handshake, Buffer.from('finished too early')));
  assert.equal(server.layer.counters.droppedEpoch, 1);
  assert.equal(server.records.length, 0);
  const epochTwo = client.layer.seal(ContentType.applicationData, Buffer.from('x'));
  epochTwo.writeUInt16BE(2, 3);
  server.layer.activateRead();
  server.layer.openDatagram(epochTwo);
  assert.equal(server.layer.counters.droppedEpoch, 2);
});

test('application data in epoch 0 is never delivered', () => {
  const client = new Collector();
  const server = new Collector();
  server.layer.openDatagram(client.layer.seal(ContentType.applicationData, Buffer.from('unauthenticated')));
  assert.equal(server.records.length, 0);
  assert.equal(server.layer.counters.droppedEpoch, 1);
});

test('epoch 0 handshake records are delivered after the switch, for retransmission detection', () => {
  const { client, server } = establishedPair(anySuite!);
  const retransmitted = client.layer.seal(ContentType.handshake, Buffer.from('client key exchange again'), 0);
  assert.equal(retransmitted.readUInt16BE(3), 0);
  assert.equal(retransmitted.readUIntBE(5, 6), 1, 'epoch 0 continues after its ChangeCipherSpec');
  server.layer.openDatagram(retransmitted);
  server.layer.openDatagram(copy(retransmitted));
  assert.deepEqual(
    server.records.map((record) => [record.epoch, record.payload.toString()]),
    [
      [0, 'client key exchange again'],
      [0, 'client key exchange again'],
    ],
  );
  assert.equal(client.layer.seal(ContentType.applicationData, Buffer.from('a')).readUIntBE(5, 6), 0, 'epoch 1 starts at 0');
});

test('a malformed header ends the datagram, after the records before it were delivered', () => {
  const { client, server } = establishedPair(anySuite!);
  const good = client.layer.seal(ContentType.applicationData, Buffer.from('kept'));
  const next = client.layer.seal(ContentType.applicationData, Buffer.from('lost'));
  server.layer.openDatagram(Buffer.concat([good, next.subarray(0, next.length - 1)]));
  server.layer.openDatagram(Buffer.from('hello'));
  server.layer.openDatagram(Buffer.concat([Buffer.from([0x18]), good.subarray(1)]));
  assert.deepEqual(server.records.map((record) => record.payload.toString()), ['kept']);
  assert.equal(server.layer.counters.droppedMalformed, 3);
});

test('seal refuses payloads over 2^14 bytes and unknown epochs; activation needs pending keys', () => {
  const layer = new Collector().layer;
  assert.throws(() => layer.seal(ContentType.applicationData, Buffer.alloc(16385)), RecordError);
  assert.throws(() => layer.seal(ContentType.applicationData, Buffer.alloc(1), 1), RangeError);
  assert.throws(() => layer.activateWrite(), /setPendingKeys/);
  assert.throws(() => layer.activateRead(), /setPendingKeys/);
  assert.equal(layer.overhead(), 13);
});

test('the replay window restarts with the new read epoch', () => {
  const { client, server } = establishedPair(anySuite!);
  for (let i = 0; i < 3; i++) server.layer.openDatagram(client.layer.seal(ContentType.applicationData, Buffer.from([i])));
  const keys = expandKeyBlock(anySuite!, randomBytes(48), randomBytes(32), randomBytes(32));
  client.layer.setPendingKeys(anySuite!, keys, 'client');
  server.layer.setPendingKeys(anySuite!, keys, 'server');
  client.layer.activateWrite();
  server.layer.activateRead();
  server.layer.openDatagram(client.layer.seal(ContentType.applicationData, Buffer.from('epoch 2, seq 0')));
  assert.deepEqual(server.records.at(-1), { contentType: ContentType.applicationData, epoch: 2, payload: Buffer.from('epoch 2, seq 0') });
  assert.equal(server.layer.counters.droppedReplay, 0);
});

test('the next write sequence number moves forward on request, never back', () => {
  const layer = new Collector().layer;
  layer.seal(ContentType.handshake, Buffer.from('a'));
  layer.setNextWriteSequence(0, 2 ** 40);
  assert.equal(layer.seal(ContentType.handshake, Buffer.from('b')).readUIntBE(5, 6), 2 ** 40);
  assert.throws(() => layer.setNextWriteSequence(0, 5), /cannot move/);
  assert.throws(() => layer.setNextWriteSequence(1, 5), RangeError);
  layer.setNextWriteSequence(0, 2 ** 48);
  assert.throws(() => layer.seal(ContentType.handshake, Buffer.from('c')), (error: unknown) => error instanceof RecordError && error.reason === 'sequence_exhausted');
});
