// Punching between two members behind NATs that keep stray conntrack state, each NAT one router from
// the internet (issue 12, docs/punching.md): full-TTL hellos from the start leave stray entries
// that keep the pair apart; an opening hello that dies before the peer's NAT connects them, and
// the quiet grid connects them again when one learned of the other too late for the opening.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MemberTimings } from '../../src/member/main';
import type { Nat } from '../../src/net/memory-network';
import { withMesh, type Mesh } from './mesh';

/** FAST_TIMINGS's quiet period is 400 ms; stray entries must expire within it, as Linux's 30 s within 32 s. */
const STRAY_TIMEOUT_MS = 300;

async function strayPair(mesh: Mesh, timings: Partial<MemberTimings> = {}, strayTimeoutMs = STRAY_TIMEOUT_MS): Promise<Nat[]> {
  const nats = [1, 2].map((i) => mesh.network.addNat({ publicAddress: `203.0.113.${i}`, strayEntries: true, strayTimeoutMs, transit: 1 }));
  await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '10.0.1.2', nat: nats[0], timings });
  await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '10.0.2.2', nat: nats[1], timings });
  return nats;
}

test('without opening hellos, the first full-TTL datagrams leave stray entries and the pair never connects', async () => {
  await withMesh(async (mesh) => {
    // Retries come faster than entries expire (at most 375 ms apart here; 2 to 16 s against 30 s on Linux).
    const nats = await strayPair(mesh, { openingTtl: 0 }, 1_000);
    await mesh.run(5_000);
    assert.equal(mesh.peerOf('alice', '192.168.50.2'), undefined);
    assert.equal(mesh.peerOf('bob', '192.168.50.1'), undefined);
    assert.ok(nats.some((nat) => nat.strayEntriesNow().length > 0), 'a stray entry holds a port');
  });
});

test('an opening hello that dies at the router past our NAT lets the first full-TTL datagrams through: connected on the first round', async () => {
  await withMesh(async (mesh) => {
    const nats = await strayPair(mesh);
    await mesh.waitEstablished('alice', '192.168.50.2', 200);
    await mesh.waitEstablished('bob', '192.168.50.1', 200);
    await mesh.ping('alice', 'bob');
    await mesh.ping('bob', 'alice');
    assert.ok(mesh.network.expired >= 2, 'the opening hellos died on the way');
    assert.deepEqual(nats.map((nat) => nat.strayEntriesNow()), [[], []], 'no datagram reached a NAT unsolicited');
    for (const name of ['alice', 'bob']) assert.equal(mesh.get(name).member.status().peers[0].endpoint, mesh.get(name).member.status().peers[0].outsideAddress, 'on the ports the rolodex saw');
  });
});

test('a member that learns of its peer after the opening wait is knocked early; the quiet grid brings both back together', async () => {
  await withMesh(async (mesh) => {
    // The rolodex's announcement of bob to alice is lost: she learns of him from the slow rotation.
    let heldUntil = Infinity;
    mesh.network.interceptor = (d) => (d.to.address === '203.0.113.1' && d.from.port === 6264 && mesh.clock.now() < heldUntil ? null : d);
    const nats = await strayPair(mesh);
    heldUntil = mesh.clock.now() + 150;
    await mesh.run(150);
    assert.ok(nats[0].strayEntriesNow().length > 0, "bob's datagrams reached alice's NAT before she opened it");
    assert.equal(mesh.peerOf('alice', '192.168.50.2'), undefined);
    // Six failed rounds, then at most two grid periods (800 ms each) to line up.
    await mesh.waitEstablished("alice", "192.168.50.2", 6_000);
    await mesh.waitEstablished('bob', '192.168.50.1', 1_000);
    await mesh.ping('alice', 'bob');
    await mesh.ping('bob', 'alice');
  });
});

test('a public member sends no opening hello (it has no NAT to open; it would only reach the peer NAT early) and meets a stray-state member on the port the rolodex saw', async () => {
  await withMesh(async (mesh) => {
    const openings: string[] = [];
    mesh.network.interceptor = (d) => {
      if (d.ttl < 64) openings.push(d.from.address);
      return d;
    };
    const nat = mesh.network.addNat({ publicAddress: '203.0.113.1', strayEntries: true, strayTimeoutMs: STRAY_TIMEOUT_MS, transit: 1 });
    await mesh.addMember('public', { vpnIp: '192.168.50.9', address: '192.0.2.9', advertiseLocal: true });
    await mesh.addMember('natted', { vpnIp: '192.168.50.1', address: '10.0.1.2', nat });
    const seen = await mesh.waitEstablished('public', '192.168.50.1', 200);
    assert.deepEqual([...new Set(openings)], ['10.0.1.2']);
    assert.equal(seen.endpoint, seen.outsideAddress, 'no stray entry pushed the member onto another port');
    assert.deepEqual(nat.strayEntriesNow(), []);
  });
});
