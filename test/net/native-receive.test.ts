// The native receive path of the UDP transport (native/fast-receive.h) against the TypeScript
// record layer, the reference: records the record layer sealed open natively to the same bytes, for
// ChaCha20-Poly1305 and AES-128-GCM; replays and forgeries are dropped; what is not an IP packet
// from the peer comes up opened; and the replay window goes back to the record layer on disarm.
// The "device" is a plain file, which writev(2) appends each packet to, so no privileges are needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CipherSuiteId } from '../../src/dtls/api';
import { cipherSuiteById } from '../../src/dtls/cipher/suites';
import { expandKeyBlock } from '../../src/dtls/prf';
import { ContentType } from '../../src/dtls/record/header';
import { RecordLayer } from '../../src/dtls/record/record-layer';
import type { Endpoint } from '../../src/net/transport';
import { UdpTransport } from '../../src/net/udp-transport';
import { eventually } from '../support/wait';

const PEER_VPN = Buffer.from([10, 7, 0, 2]);

/** An IPv4 header from PEER_VPN (or `source`) to 10.7.0.1 and `body`; only the fields the path reads matter. */
function ipv4Packet(body: string, source: Buffer = PEER_VPN): Buffer {
  const packet = Buffer.alloc(20 + body.length);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet[9] = 17;
  source.copy(packet, 12);
  Buffer.from([10, 7, 0, 1]).copy(packet, 16);
  packet.write(body, 20);
  return packet;
}

/** A sealing peer (the record layer as a client) and the reading layer whose epoch is handed over. */
function layers(suiteId: CipherSuiteId) {
  const suite = cipherSuiteById(suiteId)!;
  const keys = expandKeyBlock(suite, randomBytes(48), randomBytes(32), randomBytes(32));
  const opened: Buffer[] = [];
  const sender = new RecordLayer({ onRecord: () => {} });
  const reader = new RecordLayer({ onRecord: (_type, _epoch, payload) => opened.push(Buffer.from(payload)) });
  sender.setPendingKeys(suite, keys, 'client');
  sender.activateWrite();
  reader.setPendingKeys(suite, keys, 'server');
  reader.activateRead();
  return { sender, reader, opened };
}

async function withTransport(run: (transport: UdpTransport, send: (datagram: Buffer) => void, device: () => Buffer) => Promise<void>): Promise<void> {
  const transport = await UdpTransport.open({ address: '127.0.0.1', port: 0 });
  const peer = dgram.createSocket('udp4');
  const folder = mkdtempSync(path.join(os.tmpdir(), 'meshboi-native-receive-'));
  const file = path.join(folder, 'device');
  const fd = openSync(file, 'w');
  await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
  try {
    const native = transport.nativeReceive;
    assert.ok(native, 'the UDP addon reads the socket (run `npm install` to build it)');
    native.attachDevice({ fd, vnet: false });
    const { port } = transport.localEndpoint();
    await run(transport, (datagram) => peer.send(datagram, port, '127.0.0.1'), () => readFileSync(file));
    native.attachDevice(null);
  } finally {
    peer.close();
    await transport.close();
    closeSync(fd);
    rmSync(folder, { recursive: true });
  }
}

function peerEndpoint(transport: UdpTransport, from: Endpoint[]): Endpoint {
  assert.equal(from.length > 0, true, `no datagram reached ${transport.localEndpoint().port} through JavaScript`);
  return from[0]!;
}

for (const [name, suiteId] of [
  ['ChaCha20-Poly1305', CipherSuiteId.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256],
  ['AES-128-GCM', CipherSuiteId.TLS_PSK_WITH_AES_128_GCM_SHA256],
] as const) {
  test(`${name}: records the record layer sealed open natively to the same packets, once each, and the window comes back`, async () => {
    await withTransport(async (transport, send, device) => {
      const native = transport.nativeReceive!;
      const { sender, reader, opened } = layers(suiteId);
      const seen: Endpoint[] = [];
      transport.onMessage((data, from) => {
        seen.push(from);
        reader.openDatagram(data);
      });
      // Before arming, JavaScript opens: the first record also tells us the source's endpoint.
      send(sender.seal(ContentType.applicationData, ipv4Packet('before')));
      await eventually('the first record opened in JavaScript', () => opened.length === 1);
      const from = peerEndpoint(transport, seen);

      assert.equal(native.arm(from, reader.handOverRead()!, PEER_VPN), true);
      const packets = ['one', 'two', 'three'].map((body) => ipv4Packet(body));
      const records = packets.map((packet) => sender.seal(ContentType.applicationData, packet));
      for (const record of records) send(Buffer.from(record));
      await eventually('three packets written natively', () => device().length === Buffer.concat(packets).length);
      assert.deepEqual(device(), Buffer.concat(packets));
      assert.deepEqual(native.sessionCounters(from), { packets: 3, bytes: Buffer.concat(packets).length });

      // A replay and a forgery are dropped, never handed to JavaScript unopened.
      send(Buffer.from(records[1]!));
      const forged = Buffer.from(sender.seal(ContentType.applicationData, ipv4Packet('forged')));
      forged[forged.length - 1] ^= 1;
      send(forged);
      // A keepalive and a packet from another source open natively and come up for JavaScript.
      const cameUp: Buffer[] = [];
      native.onOpened((plaintext) => cameUp.push(Buffer.from(plaintext)));
      send(sender.seal(ContentType.applicationData, Buffer.alloc(0)));
      const stranger = ipv4Packet('route', Buffer.from([192, 168, 9, 9]));
      send(sender.seal(ContentType.applicationData, stranger));
      await eventually('two opened records up', () => cameUp.length === 2);
      assert.deepEqual(cameUp, [Buffer.alloc(0), stranger]);
      const counters = native.counters();
      assert.equal(counters.droppedReplay, 1);
      assert.equal(counters.droppedAuth, 1);
      assert.equal(counters.armed, 1);
      assert.equal(opened.length, 1, 'JavaScript opened nothing while the session was armed');

      // Disarmed, the record layer knows every number native code accepted.
      const bits = new Uint32Array(reader.handOverRead()!.bits.length);
      const highest = native.disarm(from, bits);
      assert.equal(highest, 6);
      reader.takeBackRead(1, highest!, bits);
      send(Buffer.from(records[2]!));
      const fresh = ipv4Packet('after');
      send(sender.seal(ContentType.applicationData, fresh));
      await eventually('the next record opened in JavaScript again', () => opened.length === 2);
      assert.deepEqual(opened[1], fresh);
      assert.equal(reader.counters.droppedReplay, 1);
      assert.equal(native.counters().armed, 0);
    });
  });
}

test('a suite native code lacks (AES-128-CCM-8) is refused and stays with JavaScript', async () => {
  await withTransport(async (transport) => {
    const { reader } = layers(CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8);
    assert.equal(transport.nativeReceive!.arm({ address: '127.0.0.1', port: 9 }, reader.handOverRead()!, PEER_VPN), false);
    assert.equal(transport.nativeReceive!.counters().armed, 0);
  });
});
