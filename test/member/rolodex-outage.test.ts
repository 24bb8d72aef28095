// The rolodex going down leaves established sessions alone: traffic keeps flowing past every
// liveness interval, the outage is logged once, and the member re-registers when it is back;
// with several rolodexes, the member meets whoever any of them knows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAST_TIMINGS, withMesh } from './mesh';

test('when the rolodex goes down traffic keeps flowing, and the member registers again when it returns', async () => {
  await withMesh(async (mesh) => {
    const [rolodex] = mesh.rolodexes;
    const [alice] = await mesh.addPair();
    const handshakeAge = mesh.peerOf('alice', '192.168.50.2')!.sinceHandshakeMs!;

    const answersBefore = alice.logs.count('rolodex answers');
    const silentBefore = alice.logs.count(/rolodex went silent/);
    await rolodex.stop();
    mesh.rolodexes.splice(0);
    // Longer than the silence, dead-peer, removal and listing-grace intervals together.
    const { silentAfterMs, deadAfterMs, removeAfterMs, listingGraceMs } = FAST_TIMINGS;
    const outageMs = silentAfterMs + deadAfterMs + removeAfterMs + listingGraceMs;
    for (let waited = 0; waited <= outageMs; waited += 200) {
      await mesh.run(200);
      await mesh.ping('alice', 'bob');
      await mesh.ping('bob', 'alice');
    }
    assert.equal(alice.logs.count(/rolodex went silent/) - silentBefore, 1, 'the outage is logged once');
    assert.equal(alice.member.status().rolodexes[0].reachable, false);
    const peer = mesh.peerOf('alice', '192.168.50.2');
    assert.ok(peer, 'the session survived the outage');
    assert.ok(peer.sinceHandshakeMs! > handshakeAge + outageMs, 'the same session: no re-handshake');

    const back = mesh.addRolodex();
    await mesh.until('alice registers again', () => alice.member.status().rolodexes[0].reachable && back.stats().members === 2);
    assert.equal(alice.logs.count('rolodex answers') - answersBefore, 1, 'the end of the outage is logged once');
    await mesh.ping('alice', 'bob');
  });
});

test('a member registered with two rolodexes meets the members each of them knows, and keeps them when one goes down', async () => {
  await withMesh(async (mesh) => {
    const [first] = mesh.rolodexes;
    const second = mesh.addRolodex('198.51.100.2');
    const [one, two] = mesh.rolodexEndpoints;
    const hub = await mesh.addMember('hub', { vpnIp: '192.168.50.1', address: '192.0.2.10', rolodexes: [one, two] });
    await mesh.addMember('east', { vpnIp: '192.168.50.2', address: '192.0.2.20', rolodexes: [one] });
    await mesh.addMember('west', { vpnIp: '192.168.50.3', address: '192.0.2.30', rolodexes: [two] });
    await mesh.waitEstablished('hub', '192.168.50.2');
    await mesh.waitEstablished('hub', '192.168.50.3');
    assert.equal(mesh.get('east').member.status().peers.length, 1, 'east and west share no rolodex, so they never meet');
    await first.stop();
    mesh.rolodexes.splice(mesh.rolodexes.indexOf(first), 1);
    await mesh.until('hub notices the first rolodex is gone', () => hub.member.status().rolodexes.filter((r) => r.reachable).length === 1);
    await mesh.ping('hub', 'east');
    await mesh.ping('west', 'hub');
    assert.equal(second.stats().members, 2);
  });
});
