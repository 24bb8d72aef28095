// Member names: our members tell each other their names in peer-info, and every member answers
// DNS for NAME.NETWORK.meshboi (A, AAAA) and reverse names (PTR); original members have no name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DNS_TYPE, encodeName, RCODE } from '../../src/dns/message';
import type { MemoryTransport } from '../../src/net/memory-network';
import { withMesh, type Mesh } from './mesh';

interface Reply {
  rcode: number;
  answers: Array<{ type: number; data: string }>;
}

let nextId = 1;

/** Asks the DNS socket at `server`:53 one question from a client socket of the in-memory network; reads the reply. */
async function ask(mesh: Mesh, client: MemoryTransport, server: string, name: string, type: number): Promise<Reply> {
  const id = nextId++;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const question = Buffer.concat([encodeName(name), Buffer.from([type >> 8, type & 0xff, 0, 1])]);
  let reply: Buffer | null = null;
  client.onMessage((data) => {
    if (data.readUInt16BE(0) === id) reply = Buffer.from(data);
  });
  client.send(Buffer.concat([header, question]), 53, server);
  await mesh.until(`an answer about ${name}`, () => reply !== null);
  return parseReply(reply!, 12 + question.length);
}

/** Reads the answers of one of our replies (names in answers are pointers to the question). */
function parseReply(message: Buffer, answersAt: number): Reply {
  const answers: Reply['answers'] = [];
  let at = answersAt;
  for (let i = 0; i < message.readUInt16BE(6); i++) {
    const type = message.readUInt16BE(at + 2);
    const length = message.readUInt16BE(at + 10);
    const rdata = message.subarray(at + 12, at + 12 + length);
    at += 12 + length;
    if (type === DNS_TYPE.A) answers.push({ type, data: [...rdata].join('.') });
    else if (type === DNS_TYPE.AAAA) answers.push({ type, data: rdata.toString('hex') });
    else answers.push({ type, data: decodeName(rdata) });
  }
  return { rcode: message.readUInt16BE(2) & 0x0f, answers };
}

function decodeName(bytes: Buffer): string {
  const labels: string[] = [];
  for (let at = 0; bytes[at] !== 0; at += bytes[at] + 1) labels.push(bytes.toString('latin1', at + 1, at + 1 + bytes[at]));
  return labels.join('.');
}

test('members resolve each other\'s names, addresses and reverse names; original members are only a VPN IP', async () => {
  await withMesh(async (mesh) => {
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', secondVpnIp: 'fd00:6d62::1', address: '192.0.2.10', name: 'alice', dns: true });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', secondVpnIp: 'fd00:6d62::2', address: '192.0.2.20', name: 'bob' });
    await mesh.addMember('carol', { vpnIp: '192.168.50.3', address: '192.0.2.30', name: 'carol', announceMeshboi: false });
    await mesh.until('alice knows bob\'s name', () => mesh.peerOf('alice', '192.168.50.2')?.name === 'bob.testnet.meshboi');
    await mesh.waitEstablished('alice', '192.168.50.3');
    const client = mesh.network.attach('192.168.50.2', 5353);
    try {
      const server = '192.168.50.1';
      assert.deepEqual(await ask(mesh, client, server, 'bob.testnet.meshboi', DNS_TYPE.A), { rcode: RCODE.noError, answers: [{ type: DNS_TYPE.A, data: '192.168.50.2' }] });
      assert.deepEqual((await ask(mesh, client, server, 'BOB.TestNet.meshboi', DNS_TYPE.AAAA)).answers, [{ type: DNS_TYPE.AAAA, data: 'fd006d62000000000000000000000002' }]);
      assert.deepEqual((await ask(mesh, client, server, 'alice.testnet.meshboi', DNS_TYPE.A)).answers, [{ type: DNS_TYPE.A, data: '192.168.50.1' }]);
      assert.deepEqual((await ask(mesh, client, server, '2.50.168.192.in-addr.arpa', DNS_TYPE.PTR)).answers, [{ type: DNS_TYPE.PTR, data: 'bob.testnet.meshboi' }]);
      const reverse6 = [...'fd006d62000000000000000000000002'].reverse().join('.') + '.ip6.arpa';
      assert.deepEqual((await ask(mesh, client, server, reverse6, DNS_TYPE.PTR)).answers, [{ type: DNS_TYPE.PTR, data: 'bob.testnet.meshboi' }]);
      // Carol poses as an original member: no name of hers reaches alice.
      assert.equal((await ask(mesh, client, server, 'carol.testnet.meshboi', DNS_TYPE.A)).rcode, RCODE.nxDomain);
      assert.equal((await ask(mesh, client, server, '3.50.168.192.in-addr.arpa', DNS_TYPE.PTR)).rcode, RCODE.nxDomain);
      assert.deepEqual(await ask(mesh, client, server, 'bob.testnet.meshboi', DNS_TYPE.PTR), { rcode: RCODE.noError, answers: [] });
      assert.equal((await ask(mesh, client, server, 'example.org', DNS_TYPE.A)).rcode, RCODE.refused);
    } finally {
      await client.close();
    }
    const status = alice.member.status();
    assert.equal(status.name, 'alice.testnet.meshboi');
    assert.equal(status.peers.find((peer) => peer.vpnIp === '192.168.50.3')?.name, null);
  });
});

test('a name two members claim stays with the first one another member heard', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', name: 'alice' });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', name: 'twin' });
    await mesh.until('alice knows bob\'s name', () => mesh.peerOf('alice', '192.168.50.2')?.name === 'twin.testnet.meshboi');
    await mesh.addMember('carol', { vpnIp: '192.168.50.3', address: '192.0.2.30', name: 'twin' });
    await mesh.addMember('dave', { vpnIp: '192.168.50.4', address: '192.0.2.40', name: 'alice' });
    await mesh.waitEstablished('alice', '192.168.50.3');
    await mesh.waitEstablished('alice', '192.168.50.4');
    await mesh.run(500);
    assert.equal(mesh.peerOf('alice', '192.168.50.2')?.name, 'twin.testnet.meshboi');
    assert.equal(mesh.peerOf('alice', '192.168.50.3')?.name, null);
    assert.equal(mesh.peerOf('alice', '192.168.50.4')?.name, null);
    const refusals = mesh.get('alice').logs.lines.filter((line) => line.message === 'refused part of a peer\'s claims').map((line) => String(line.reason));
    assert.deepEqual(refusals.sort(), ['name alice is ours', 'name twin belongs to 192.168.50.2']);
  });
});

test('a member leaving takes its name along', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', name: 'alice' });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', name: 'bob' });
    await mesh.until('alice knows bob\'s name', () => mesh.peerOf('alice', '192.168.50.2')?.name === 'bob.testnet.meshboi');
    await mesh.stopMember('bob');
    await mesh.addMember('carol', { vpnIp: '192.168.50.3', address: '192.0.2.30', name: 'bob' });
    await mesh.until('the name passes to carol', () => mesh.peerOf('alice', '192.168.50.3')?.name === 'bob.testnet.meshboi');
  });
});
