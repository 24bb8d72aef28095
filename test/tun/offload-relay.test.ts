// TUN offloads against the real kernel: two devices in two namespaces, relayed packet by packet in
// JavaScript as the member relays them. A TCP stream crosses intact while the sender's kernel hands
// us super-packets (TSO, cut here) and the receiver's kernel takes coalesced ones (GRO, made here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { openTun, type TunDevice } from '../../src/tun/linux';
import { runIn, skipUnlessRoot, withNamespace } from './namespace-fixture';

const STREAM_BYTES = 24 * 1024 * 1024;
const PORT = 5301;

/** Bytes the client sends: a hash chain, so a lost, repeated or reordered piece changes the digest. */
const CHUNK_SCRIPT = `
const { createHash } = require('node:crypto');
function chunks(total) {
  const out = [];
  let seed = Buffer.from('meshboi');
  for (let sent = 0; sent < total; sent += 65536) {
    const chunk = Buffer.alloc(65536);
    for (let at = 0; at < chunk.length; at += 32) { seed = createHash('sha256').update(seed).digest(); seed.copy(chunk, at); }
    out.push(chunk);
  }
  return out;
}`;

const SERVER_SCRIPT = `
const net = require('node:net');
const { createHash } = require('node:crypto');
const server = net.createServer((socket) => {
  const hash = createHash('sha256');
  let length = 0;
  socket.on('data', (data) => { hash.update(data); length += data.length; });
  socket.on('end', () => { console.log(JSON.stringify({ length, digest: hash.digest('hex') })); socket.end(); server.close(); });
});
server.listen(${PORT}, process.argv[1]);
setTimeout(() => process.exit(2), 30000).unref();`;

const CLIENT_SCRIPT = `${CHUNK_SCRIPT}
const net = require('node:net');
const data = chunks(${STREAM_BYTES});
function attempt(left) {
  const socket = net.connect(${PORT}, process.argv[1]);
  socket.on('error', () => { if (left > 0) setTimeout(() => attempt(left - 1), 100); else process.exit(3); });
  socket.on('connect', () => { for (const chunk of data) socket.write(chunk); socket.end(); socket.resume(); });
}
attempt(100);`;

function expectedDigest(): string {
  const chunks = new Function('require', `${CHUNK_SCRIPT}; return chunks(${STREAM_BYTES});`)(require) as Buffer[];
  return createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
}

/** Every packet one device reads is written to the other, as the member's two paths do. */
function relay(from: TunDevice, to: TunDevice): void {
  from.onPackets((packets) => {
    for (const packet of packets) to.write(packet);
    // The read slab is reused once the handler returns: write before that.
    to.flush();
  });
}

for (const [family, clientAddress, serverAddress, prefix] of [
  ['IPv4', '10.78.0.1', '10.78.0.2', 24],
  ['IPv6', 'fd78::1', 'fd78::2', 64],
] as const) {
  test(`a TCP stream over ${family} crosses two offloading TUN devices intact, as super-packets both ways`, async (t) => {
    if (skipUnlessRoot(t)) return;
    await withNamespace((clientNs) =>
      withNamespace(async (serverNs) => {
        const client = await openTun({ name: 'mboff0', netns: clientNs, mtu: 1280, addresses: [`${clientAddress}/${prefix}`] });
        const server = await openTun({ name: 'mboff1', netns: serverNs, mtu: 1280, addresses: [`${serverAddress}/${prefix}`] });
        try {
          if (!client.offloads.enabled.includes(family === 'IPv4' ? 'tso4' : 'tso6')) {
            t.skip(`this kernel offers no TSO on TUN: ${client.offloads.problem}`);
            return;
          }
          // A bounded queue: 16 super-packets of 8 KiB, not 500 of 64 KiB (see OFFLOAD_QUEUE_PACKETS).
          const link = await runIn(clientNs, 'ip', ['-d', 'link', 'show', 'dev', 'mboff0']);
          assert.match(link.stdout, /qlen 16\b/);
          assert.match(link.stdout, /gso_max_size 8192\b/);
          relay(client, server);
          relay(server, client);
          const received = runIn(serverNs, process.execPath, ['-e', SERVER_SCRIPT, serverAddress]);
          const sent = await runIn(clientNs, process.execPath, ['-e', CLIENT_SCRIPT, serverAddress]);
          assert.equal(sent.code, 0, `client: ${sent.stderr}`);
          const result = await received;
          assert.equal(result.code, 0, `server: ${result.stderr}`);
          assert.deepEqual(JSON.parse(result.stdout), { length: STREAM_BYTES, digest: expectedDigest() });
          const sender = client.counters;
          const receiver = server.counters;
          assert.ok(sender.superPacketsRead > 0, `the sending kernel handed over super-packets: ${JSON.stringify(sender)}`);
          assert.ok(receiver.superPacketsWritten > 0, `the receiving kernel took coalesced writes: ${JSON.stringify(receiver)}`);
          assert.equal(receiver.writeDropsRejected, 0);
          assert.equal(sender.readErrors, 0);
        } finally {
          await client.close();
          await server.close();
        }
      }),
    );
  });
}
