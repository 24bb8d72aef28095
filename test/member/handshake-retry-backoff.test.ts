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
    // Two tries per round (40 + 80 ms); the first retries wait 40 and 80 ms, each ±25%.
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
    // From the third failure on, rounds start on the quiet grid (punch-schedule.ts): a multiple of
    // 800 ms of simulated time, at least the quiet period (400 ms) after the failure.
    for (const [i, delay] of delays.slice(2).entries()) {
      assert.ok(delay >= 400 && delay <= 1200, `retry ${i + 3} waits out the quiet period, within one grid step, got ${delay}`);
    }

    mesh.network.interceptor = (d) => d;
    await mesh.waitEstablished('alice', '192.168.50.2');
    await mesh.ping('alice', 'bob');
    const established = alice.member.status().peers[0];
    assert.equal(established.lastError, null);
  });
});
