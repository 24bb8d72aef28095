// End to end: an original-style member (the pion test peer, with a real TUN device) behind a NAT
// among our members: pings both ways through real tunnels, a rolodex outage, a crash and restart of
// one of ours on a new port. The pion peer exits on any read error, as the original does, so it
// must still be running after each step.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab } from '../../lab/lab';
import { numberedMembers, startMember, startRolodex, waitFor, waitForRejoin, type MeshMember } from '../../lab/meshboi';
import type { LabProcess } from '../../lab/process';
import { requirePionPeer } from '../pion/pion-peer';
import { E2E_SKIP, meshLabFixture } from './mesh-fixture';

const PION_VPN_IP = '192.168.50.9';
const MESH_TIMEOUT_MS = 30_000;

describe('pion: an original-style member among ours', { skip: E2E_SKIP }, () => {
  const fixture = meshLabFixture(
    {
      public: ['rolodex', 'pub'],
      // Public hosts sort before the NAT routers, and home's router before office's: the pion peer
      // behind home is the DTLS server toward pub and the client toward b1.
      nats: { home: { kind: 'cone', hosts: ['p1'] }, office: { kind: 'cone', hosts: ['b1'] } },
    },
    { rolodexHost: 'rolodex', members: numberedMembers(['pub', 'b1']) },
  );
  let pion: LabProcess | undefined;

  const assertPionRunning = (step: string): void => {
    assert.ok(pion?.running, `the pion peer exited after ${step}:\n${pion?.output().slice(-3_000)}`);
  };

  /** Pings both ways between the pion peer and each of `members`; every reply must come back. */
  const pingBothWays = async (lab: Lab, members: MeshMember[], count: number): Promise<void> => {
    const p1 = lab.host('p1');
    const results = await Promise.all(
      members.flatMap((member) => [
        member.ping(PION_VPN_IP, count),
        p1.exec('ping', ['-q', '-n', '-c', String(count), '-i', '0.2', '-w', String(Math.ceil(count * 0.2) + 5), member.vpnIp]).then((result) => {
          const match = /(\d+) packets transmitted, (\d+) received/.exec(result.stdout);
          return { from: 'pion', to: member.vpnIp, transmitted: Number(match?.[1] ?? count), received: Number(match?.[2] ?? 0) };
        }),
      ]),
    );
    for (const result of results) assert.equal(result.received, result.transmitted, `${result.from} -> ${result.to}: ${result.received}/${result.transmitted}`);
  };

  test('pion: the pion peer meshes with our members and pings cross both ways', (t) =>
    fixture.run(async ({ lab, mesh }) => {
      const binary = requirePionPeer(t);
      if (!binary) return;
      const p1 = lab.host('p1');
      const pskFile = path.join(p1.runFolder, 'pion.psk');
      writeFileSync(pskFile, `${mesh.psk}\n`, { mode: 0o600 });
      pion = p1.spawn(binary, ['member', '-rolodex', mesh.rolodexAddress, '-network', mesh.network, '-psk-file', pskFile, '-vpn-ip', `${PION_VPN_IP}/24`, '-tun', 'tunpion'], { logName: 'pion-peer.log' });
      for (const member of mesh.members) await member.waitForEstablished([PION_VPN_IP], MESH_TIMEOUT_MS);
      await waitFor('the pion peer to establish with both of ours', MESH_TIMEOUT_MS, async () => ((pion!.output().match(/^established /gm)?.length ?? 0) >= 2 ? true : undefined));
      const roles = [];
      for (const member of mesh.members) {
        const peer = await member.peer(PION_VPN_IP);
        assert.equal(peer?.kind, 'original');
        assert.equal(peer?.mtu, null, 'an original peer keeps the TUN MTU: it is sent no size probe');
        roles.push(`${member.name}: ${peer?.role}`);
      }
      assert.deepEqual(roles, ['pub: client', 'b1: server'], 'the pion peer plays both roles');
      await pingBothWays(lab, mesh.members, 5);
      assertPionRunning('the first pings');
    }));

  test('pion: a rolodex outage of 30 s (three keepalive intervals) loses no ping and the pion peer stays up', (t) =>
    fixture.run(async ({ lab, mesh }) => {
      if (!pion) return t.skip('the pion peer did not start');
      await mesh.rolodex.kill();
      await pingBothWays(lab, mesh.members, 100);
      await sleep(10_000);
      await pingBothWays(lab, mesh.members, 3);
      assertPionRunning('the rolodex outage');
    }));

  test('pion: our member crashed and restarted on a new port meets the pion peer again', (t) =>
    fixture.run(async ({ lab, mesh }) => {
      if (!pion) return t.skip('the pion peer did not start');
      mesh.rolodex = await startRolodex(lab.host('rolodex'));
      const old = mesh.members[1];
      await old.kill();
      const restartedAt = Date.now();
      const restarted = await startMember(old.host, { network: mesh.network, psk: mesh.psk, vpnIp: `${old.vpnIp}/24`, rolodexes: [mesh.rolodexAddress], listenPort: 41_000 });
      mesh.members[1] = restarted;
      await waitForRejoin(restarted, mesh.members, restartedAt, MESH_TIMEOUT_MS);
      await restarted.waitForEstablished([PION_VPN_IP], MESH_TIMEOUT_MS);
      await pingBothWays(lab, [restarted], 5);
      assertPionRunning("our member's restart");
    }));
});
