// A failed handshake round is retried after an exponentially growing, capped, jittered delay,
// the peer shows as failed with the reason meanwhile, and the first round that gets through wins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withMesh } from './mesh';

test('failed handshakes are retried with bounded exponential backoff until the path opens', async () => {
  await withMesh(async (mesh) => {
    const between = (d: { from: { address: string }; to: { address: string } }): boolean =>
      (d.from.address === '192.0.2.10' && d.to.address === '192.0.2.20') || (d.from.address === '192.0.2.20' && d.to.address === '192.0.2.10');
    mesh.network.interceptor = (d) => (between(d) ? null : d);
    // Two tries per round (40 + 80 ms); retries wait 40, 80, 160, then at most 300 ms, each ±25%.
    const timings = { handshakeMaxTries: 2 };
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', timings });
    await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', timings });
    const retries = (): number[] => alice.logs.lines.filter((l) => l.message === 'handshake round failed; retrying').map((l) => Number(l.retryInMs));
    await mesh.until('five failed rounds', () => retries().length >= 5, 8000);
    const bob = alice.member.status().peers[0];
    assert.equal(bob.state, 'failed');
    assert.match(bob.lastError ?? '', /timed out/);
    const delays = retries();
    assert.ok(delays[0] >= 30 && delays[0] <= 50, `first retry after about 40 ms, got ${delays[0]}`);
    assert.ok(delays[1] >= 60 && delays[1] <= 100, `second after about 80 ms, got ${delays[1]}`);
    assert.ok(delays[3] >= 225, `the fourth reaches the cap, got ${delays[3]}`);
    assert.ok(Math.max(...delays) <= 375, `never beyond the cap plus jitter, got ${Math.max(...delays)}`);

    mesh.network.interceptor = (d) => d;
    await mesh.waitEstablished('alice', '192.168.50.2');
    await mesh.ping('alice', 'bob');
    const established = alice.member.status().peers[0];
    assert.equal(established.lastError, null);
  });
});
