// Known answer from a capture of two original (pion) meshboi members: our record codec, key schedule
// and record layer must decrypt every application-data record to the ICMP echo the members exchanged.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { CipherSuiteId } from '../../src/dtls/api';
import { cipherSuiteById } from '../../src/dtls/cipher/suites';
import {
  expandKeyBlock,
  extendedMasterSecret,
  finishedVerifyData,
  pskPremasterSecret,
  transcriptHash,
} from '../../src/dtls/prf';
import { ContentType, splitRecords } from '../../src/dtls/record/header';
import { RecordLayer, type RecordReceiver } from '../../src/dtls/record/record-layer';
import { capturedDtlsDatagrams, loadOriginalSession } from '../vectors/original-session';

const HandshakeType = { helloVerifyRequest: 3, finished: 20 };

/** A handshake message with its 12-byte DTLS header, as it enters the transcript. */
interface HandshakeMessage {
  type: number;
  messageSeq: number;
  body: Buffer;
  whole: Buffer;
}

function parseHandshakeMessages(fragment: Buffer): HandshakeMessage[] {
  const messages: HandshakeMessage[] = [];
  let offset = 0;
  while (offset < fragment.length) {
    const length = fragment.readUIntBE(offset + 1, 3);
    const fragmentOffset = fragment.readUIntBE(offset + 6, 3);
    const fragmentLength = fragment.readUIntBE(offset + 9, 3);
    assert.equal(fragmentOffset, 0, 'the capture holds no fragmented handshake messages');
    assert.equal(fragmentLength, length);
    messages.push({
      type: fragment[offset]!,
      messageSeq: fragment.readUInt16BE(offset + 4),
      body: fragment.subarray(offset + 12, offset + 12 + length),
      whole: fragment.subarray(offset, offset + 12 + length),
    });
    offset += 12 + length;
  }
  return messages;
}

class CollectingReceiver implements RecordReceiver {
  readonly records: Array<{ contentType: number; epoch: number; payload: Buffer }> = [];
  layer: RecordLayer | null = null;

  onRecord(contentType: number, epoch: number, payload: Buffer): void {
    this.records.push({ contentType, epoch, payload: Buffer.from(payload) });
    if (contentType === ContentType.changeCipherSpec) this.layer!.activateRead();
  }
}

function ipv4Address(packet: Buffer, offset: number): string {
  return [...packet.subarray(offset, offset + 4)].join('.');
}

test('the captured original session decrypts to ICMP echo between the two VPN addresses', () => {
  const capture = loadOriginalSession();
  const clientAddress = Object.keys(capture.members).find((address) => capture.members[address]!.dtls_role.startsWith('client'))!;
  const dtls = capturedDtlsDatagrams(capture);

  // Walk the handshake in plaintext: skip the first ClientHello and HelloVerifyRequest (RFC 6347 4.2.1).
  const transcript: HandshakeMessage[] = [];
  let sawCookieExchange = false;
  for (const datagram of dtls) {
    const { records, error } = splitRecords(datagram.bytes);
    assert.equal(error, null);
    for (const record of records) {
      if (record.header.contentType !== ContentType.handshake || record.header.epoch !== 0) continue;
      for (const message of parseHandshakeMessages(record.fragment)) {
        if (message.type === HandshakeType.helloVerifyRequest) sawCookieExchange = true;
        else if (sawCookieExchange) transcript.push({ ...message, whole: Buffer.from(message.whole) });
      }
    }
  }
  assert.ok(sawCookieExchange, 'the capture has a HelloVerifyRequest');
  const types = transcript.map((message) => message.type);
  assert.deepEqual(types, [1, 2, 12, 14, 16]);

  const clientHello = transcript[0]!;
  const serverHello = transcript[1]!;
  const clientRandom = clientHello.body.subarray(2, 34);
  const serverRandom = serverHello.body.subarray(2, 34);
  const sessionIdLength = serverHello.body[34]!;
  const suiteId = serverHello.body.readUInt16BE(35 + sessionIdLength);
  assert.equal(suiteId, CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8);
  const suite = cipherSuiteById(suiteId)!;

  const premaster = pskPremasterSecret(Buffer.from(capture.pskText, 'utf8'));
  const sessionHash = transcriptHash(suite.prfHash, transcript.map((message) => message.whole));
  const masterSecret = extendedMasterSecret(suite.prfHash, premaster, sessionHash);
  const keys = expandKeyBlock(suite, masterSecret, clientRandom, serverRandom);

  const clientSide = new CollectingReceiver();
  const serverSide = new CollectingReceiver();
  const clientLayer = new RecordLayer(clientSide);
  const serverLayer = new RecordLayer(serverSide);
  clientSide.layer = clientLayer;
  serverSide.layer = serverLayer;
  clientLayer.setPendingKeys(suite, keys, 'client');
  serverLayer.setPendingKeys(suite, keys, 'server');
  for (const datagram of dtls) {
    const toServer = datagram.from === clientAddress;
    (toServer ? serverLayer : clientLayer).openDatagram(Buffer.from(datagram.bytes));
  }
  for (const layer of [clientLayer, serverLayer]) {
    assert.equal(layer.counters.droppedAuth, 0);
    assert.equal(layer.counters.droppedMalformed, 0);
    assert.equal(layer.counters.droppedEpoch, 0);
    assert.equal(layer.counters.droppedReplay, 0);
  }

  // Both Finished messages arrived in epoch 1 and carry the verify_data our PRF computes.
  const clientFinished = serverSide.records.find((record) => record.epoch === 1 && record.contentType === ContentType.handshake)!;
  const serverFinished = clientSide.records.find((record) => record.epoch === 1 && record.contentType === ContentType.handshake)!;
  const [clientFinishedMessage] = parseHandshakeMessages(clientFinished.payload);
  const [serverFinishedMessage] = parseHandshakeMessages(serverFinished.payload);
  assert.equal(clientFinishedMessage!.type, HandshakeType.finished);
  const wholeTranscript = transcript.map((message) => message.whole);
  assert.deepEqual(
    clientFinishedMessage!.body,
    finishedVerifyData(suite.prfHash, masterSecret, 'client', transcriptHash(suite.prfHash, wholeTranscript)),
  );
  assert.deepEqual(
    serverFinishedMessage!.body,
    finishedVerifyData(
      suite.prfHash,
      masterSecret,
      'server',
      transcriptHash(suite.prfHash, [...wholeTranscript, clientFinishedMessage!.whole]),
    ),
  );

  const packets = [...clientSide.records, ...serverSide.records].filter(
    (record) => record.contentType === ContentType.applicationData,
  );
  assert.equal(packets.length, 12);
  const vpnAddresses = Object.values(capture.members).map((member) => member.vpn_ip).sort();
  for (const { payload: packet, epoch } of packets) {
    assert.equal(epoch, 1);
    assert.equal(packet[0]! >> 4, 4, 'IPv4');
    assert.equal(packet[9], 1, 'ICMP');
    assert.ok([0, 8].includes(packet[(packet[0]! & 0x0f) * 4]!), 'echo request or reply');
    assert.deepEqual([ipv4Address(packet, 12), ipv4Address(packet, 16)].sort(), vpnAddresses);
  }
});
