// Relays through members (docs/relays.md) on the simulated network: pairs that cannot punch
// connect through a member started as a relay, which forwards their own DTLS records and reads
// nothing; a pair that can punch moves to direct without dropping the session; a lost relay's
// pairs move to another; an original member never receives a relay frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairBehindBlockedNats, withMesh, type Mesh } from './mesh';

const APPLICATION_DATA = 23;

/** Two members behind their own symmetric NATs: no direct path between them, ever. */
async function symmetricPair(mesh: Mesh): Promise<void> {
  for (const [i, name] of ['sym1', 'sym2'].entries()) {
    const nat = mesh.network.addNat({ publicAddress: `203.0.113.${i + 1}`, kind: 'symmetric' });
    await mesh.addMember(name, { vpnIp: `192.168.50.${i + 1}`, address: `10.0.${i + 1}.2`, nat });
  }
}

test('two members behind symmetric NATs connect through a relay member, which forwards their records and reads none', async () => {
  await withMesh(async (mesh) => {
    const relay = await mesh.addMember('relay', { vpnIp: '192.168.50.9', address: '192.0.2.9', relay: true });
    await symmetricPair(mesh);
    const seen = await mesh.waitEstablished('sym1', '192.168.50.2', 3_000);
    await mesh.waitEstablished('sym2', '192.168.50.1', 1_000);
    assert.equal(seen.path, 'relay');
    assert.equal(seen.relay, '192.168.50.9');
    assert.match(seen.notDirect ?? '', /symmetric|timed out|not tried/);
    const writtenByRelay = relay.device.written.length;
    await mesh.ping('sym1', 'sym2');
    await mesh.ping('sym2', 'sym1');
    assert.equal(relay.device.written.length, writtenByRelay, 'nothing relayed reached the relay\'s TUN');
    const forwarded = relay.member.status().relay;
    assert.ok(forwarded, 'a relay reports what it forwards');
    assert.equal(forwarded.pairs, 2, 'one pair each way');
    assert.ok(forwarded.packets >= 4 && forwarded.bytes > 0, JSON.stringify(forwarded));
    assert.equal(mesh.get('sym1').member.status().relay, null, 'a member without --relay forwards nothing');
  });
});

test('what a relay sends is what it received, but for the address of the other member', async () => {
  await withMesh(async (mesh) => {
    const sizes = { in: [] as number[], out: [] as number[] };
    await mesh.addMember('relay', { vpnIp: '192.168.50.9', address: '192.0.2.9', relay: true });
    mesh.network.interceptor = (d) => {
      if (d.data[0] === APPLICATION_DATA && d.to.address === '192.0.2.9') sizes.in.push(d.data.length);
      if (d.data[0] === APPLICATION_DATA && d.from.address === '192.0.2.9') sizes.out.push(d.data.length);
      return d;
    };
    await symmetricPair(mesh);
    await mesh.waitEstablished('sym1', '192.168.50.2', 3_000);
    await mesh.ping('sym1', 'sym2');
    // IPv4 on both sides: a deliver frame is exactly as long as the forward frame it answers.
    assert.ok(Math.max(...sizes.out) <= Math.max(...sizes.in), `in ${Math.max(...sizes.in)}, out ${Math.max(...sizes.out)}`);
  });
});

test('a pair that can punch, relayed first, moves to direct without dropping its session', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('relay', { vpnIp: '192.168.50.9', address: '192.0.2.9', relay: true });
    const nats = await pairBehindBlockedNats(mesh);
    const relayed = await mesh.waitEstablished('a', '192.168.50.2', 3_000);
    assert.equal(relayed.path, 'relay');
    const handshakeAt = mesh.clock.now() - (relayed.sinceHandshakeMs ?? 0);
    nats.unblock();
    await mesh.until('a and b direct', () => ['a', 'b'].every((name) => mesh.get(name).member.status().peers.find((p) => p.vpnIp !== '192.168.50.9')?.path === 'direct'), 3_000);
    const direct = mesh.peerOf('a', '192.168.50.2');
    assert.ok(direct);
    assert.equal(direct.relay, null);
    assert.equal(direct.notDirect, null);
    assert.ok(mesh.clock.now() - (direct.sinceHandshakeMs ?? 0) > handshakeAt, 'a new, direct session');
    await mesh.ping('a', 'b');
    await mesh.ping('b', 'a');
  });
});

test('a stray-state pair whose first round failed (one learned of the other late) is relayed, then direct once both punch together', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('relay', { vpnIp: '192.168.50.9', address: '192.0.2.9', relay: true });
    await mesh.run(100);
    // As in stray-state-punching.test.ts: the announcement of b to a is lost, so b's hellos reach
    // a's NAT before a opened it; stray entries there last 300 ms past the last of them.
    let heldUntil = Infinity;
    mesh.network.interceptor = (d) => (d.to.address === '203.0.113.1' && d.from.port === 6264 && mesh.clock.now() < heldUntil ? null : d);
    const nats = [1, 2].map((i) => mesh.network.addNat({ publicAddress: `203.0.113.${i}`, strayEntries: true, strayTimeoutMs: 300, transit: 1 }));
    await mesh.addMember('a', { vpnIp: '192.168.50.1', address: '10.0.1.2', nat: nats[0] });
    await mesh.addMember('b', { vpnIp: '192.168.50.2', address: '10.0.2.2', nat: nats[1] });
    heldUntil = mesh.clock.now() + 150;
    await mesh.run(150);
    const relayed = await mesh.waitEstablished('a', '192.168.50.2', 1_000);
    assert.equal(relayed.path, 'relay');
    const relayedAt = mesh.clock.now();
    // The quiet period (400 ms), then one round that both start together: well before the grid (800 ms steps).
    await mesh.until('a and b direct', () => mesh.peerOf('a', '192.168.50.2')?.path === 'direct' && mesh.peerOf('b', '192.168.50.1')?.path === 'direct', 1_000);
    assert.ok(mesh.clock.now() - relayedAt < 700, `direct ${mesh.clock.now() - relayedAt} ms after the relayed session`);
    await mesh.ping('a', 'b');
    await mesh.ping('b', 'a');
  });
});

test('killing a relay moves its pairs to another relay', async () => {
  await withMesh(async (mesh) => {
    await mesh.addMember('relay1', { vpnIp: '192.168.50.9', address: '192.0.2.9', relay: true });
    await symmetricPair(mesh);
    const first = await mesh.waitEstablished('sym1', '192.168.50.2', 3_000);
    assert.equal(first.relay, '192.168.50.9');
    await mesh.addMember('relay2', { vpnIp: '192.168.50.8', address: '192.0.2.8', relay: true });
    await mesh.waitEstablished('sym1', '192.168.50.8', 3_000);
    await mesh.waitEstablished('sym2', '192.168.50.8', 3_000);
    // A crash: no close_notify; only the missing pongs tell.
    const relay1 = mesh.get('relay1');
    mesh.members.delete('relay1');
    await relay1.transport.close();
    const lostAt = mesh.clock.now();
    await mesh.until('both ends through relay2', () =>
      ['sym1', 'sym2'].every((name) => mesh.get(name).member.status().peers.some((p) => p.state === 'established' && p.relay === '192.168.50.8')), 3_000);
    assert.ok(mesh.clock.now() - lostAt < 1_500, `moved in ${mesh.clock.now() - lostAt} ms of simulated time`);
    await mesh.ping('sym1', 'sym2');
    await mesh.ping('sym2', 'sym1');
    await relay1.member.stop();
    await relay1.device.close();
  });
});

test('an original member never receives a relay frame, and is never relayed to', async () => {
  await withMesh(async (mesh) => {
    const relayFramesToOriginal: number[] = [];
    await mesh.addMember('relay', { vpnIp: '192.168.50.9', address: '192.0.2.9', relay: true });
    const original = await mesh.addMember('original', { vpnIp: '192.168.50.5', address: '192.0.2.5', announceMeshboi: false });
    await symmetricPair(mesh);
    mesh.network.interceptor = (d) => {
      if (d.to.address === '192.0.2.5' && d.data[0] === APPLICATION_DATA) relayFramesToOriginal.push(d.data.length);
      return d;
    };
    await mesh.waitEstablished('sym1', '192.168.50.2', 3_000);
    await mesh.waitEstablished('relay', '192.168.50.5', 3_000);
    await mesh.run(1_000);
    assert.equal(original.device.written.length, 0, 'nothing relayed reached the original member\'s TUN');
    for (const name of ['sym1', 'sym2', 'relay']) {
      const towardOriginal = mesh.peerOf(name, '192.168.50.5');
      assert.ok(towardOriginal === undefined || towardOriginal.path === 'direct', `${name} reaches the original member directly or not at all`);
    }
    assert.equal(relayFramesToOriginal.length, 0, 'not even keepalives: an original peer gets none');
  });
});
