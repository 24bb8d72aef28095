// The native send path of a real TUN device (native/fast-send.h) against the TypeScript record
// layer, the reference: a packet the kernel routes to an armed peer leaves as the very record the
// record layer seals for the same keys and sequence number, for ChaCha20-Poly1305 and AES-128-GCM;
// records the record layer seals meanwhile take their numbers from native code, and the numbers
// come back on disarm, so none is used twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { CipherSuiteId } from '../../src/dtls/api';
import { cipherSuiteById } from '../../src/dtls/cipher/suites';
import { expandKeyBlock } from '../../src/dtls/prf';
import { ContentType, readUint48 } from '../../src/dtls/record/header';
import { RecordLayer } from '../../src/dtls/record/record-layer';
import { UdpTransport } from '../../src/net/udp-transport';
import { openTun } from '../../src/tun/linux';
import { eventually } from '../support/wait';
import { pinNeighbour, runIn, skipUnlessRoot, withNamespace } from './namespace-fixture';
import { addressBytes, readEcho, readIp } from './packets';

const TUN_V4 = '10.78.0.1';
const PEER_V4 = '10.78.0.2';

for (const [name, suiteId] of [
  ['ChaCha20-Poly1305', CipherSuiteId.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256],
  ['AES-128-GCM', CipherSuiteId.TLS_PSK_WITH_AES_128_GCM_SHA256],
] as const) {
  test(`${name}: a packet for an armed peer leaves as the record the record layer seals, numbered with JavaScript's own records`, async (t) => {
    if (skipUnlessRoot(t)) return;
    const suite = cipherSuiteById(suiteId)!;
    const keys = expandKeyBlock(suite, randomBytes(48), randomBytes(32), randomBytes(32));
    const layer = (role: 'client' | 'server', opened: Buffer[] = []) => {
      const records = new RecordLayer({ onRecord: (_type, _epoch, payload) => opened.push(Buffer.from(payload)) });
      records.setPendingKeys(suite, keys, role);
      if (role === 'client') records.activateWrite();
      else records.activateRead();
      return records;
    };
    const writer = layer('client');
    const twin = layer('client');
    const received: Buffer[] = [];
    const peer = dgram.createSocket('udp4');
    peer.on('message', (datagram) => received.push(datagram));
    await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
    const transport = await UdpTransport.open({ address: '127.0.0.1', port: 0 });
    try {
      await withNamespace(async (netns) => {
        const device = await openTun({ name: 'mbt0', netns, addresses: [`${TUN_V4}/24`], mtu: 1400 });
        try {
          await pinNeighbour(netns, device.name, PEER_V4);
          const send = device.nativeSend!;
          const socket = transport.nativeReceive!;
          send.attachSocket(socket.socketFd);
          const vpn = addressBytes(PEER_V4);
          // Two records before the hand-over: native code continues at 2.
          writer.seal(ContentType.applicationData, Buffer.alloc(0));
          writer.seal(ContentType.applicationData, Buffer.alloc(0));
          const handed = writer.handOverWrite(() => send.takeSequence(vpn))!;
          assert.equal(handed.next, 2);
          assert.equal(send.arm(vpn, socket.sockaddr({ address: '127.0.0.1', port: peer.address().port })!, handed, Infinity), true);
          const packetsRead = device.counters.packetsRead;
          // What reaches JavaScript: never the echo request, which the native path took.
          const toJavaScript: Buffer[] = [];
          device.onPackets((packets) => toJavaScript.push(...packets.map((packet) => Buffer.from(packet))));

          await runIn(netns, 'ping', ['-c', '1', '-W', '1', '-s', '300', PEER_V4]);
          await eventually('the sealed echo request at the peer', () => received.length === 1);
          const record = received[0]!;
          assert.equal(readUint48(record, 5), 2);
          const opened: Buffer[] = [];
          const reader = layer('server', opened);
          reader.openDatagram(Buffer.from(record));
          assert.equal(opened.length, 1);
          const ip = readIp(opened[0]!);
          assert.equal(ip?.destination, PEER_V4);
          assert.equal(readEcho(ip!)?.data.length, 300);
          // The reference seals the same packet with the same number into the same bytes.
          twin.setNextWriteSequence(1, 2);
          assert.deepEqual(twin.seal(ContentType.applicationData, opened[0]!), record);
          assert.deepEqual(send.sessionCounters(vpn), { packets: 1, bytes: opened[0]!.length });
          assert.equal(send.counters().sent, 1);
          assert.equal(device.counters.packetsRead, packetsRead + 1 + toJavaScript.length);
          assert.equal(toJavaScript.filter((packet) => readIp(packet)?.destination === PEER_V4).length, 0);

          // A record JavaScript seals meanwhile takes the next number from native code.
          assert.equal(readUint48(writer.seal(ContentType.applicationData, Buffer.alloc(0)), 5), 3);
          assert.equal(send.disarm(vpn), 4);
          writer.takeBackWrite(1, 4);
          assert.equal(readUint48(writer.seal(ContentType.applicationData, Buffer.alloc(0)), 5), 4);
          assert.equal(send.counters().armed, 0);
          send.attachSocket(-1);
        } finally {
          await device.close();
        }
      });
    } finally {
      peer.close();
      await transport.close();
    }
  });
}
