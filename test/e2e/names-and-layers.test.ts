// End to end, names and layers: two dual-stack members behind two NATs learn each other's IPv6
// address and name through the tunnel, answer DNS for them and ping over both families; and a
// host on one member's LAN is reached from the other through an advertised, accepted route.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, waitForFullMesh, type MeshMember } from '../../lab/meshboi';
import type { LabHost } from '../../lab/host';
import { E2E_SKIP, meshLabFixture } from './mesh-fixture';

/** Asks a member's name server with Node's own resolver (c-ares), from inside a lab host. */
async function lookup(host: LabHost, server: string, method: 'resolve4' | 'resolve6' | 'reverse', name: string): Promise<string[]> {
  const script = `const r = new (require('node:dns').promises.Resolver)({ timeout: 2000, tries: 2 }); r.setServers([${JSON.stringify(server)}]);
r.${method}(${JSON.stringify(name)}).then((a) => console.log(JSON.stringify(a)), (e) => { console.error(e.code); process.exit(1); });`;
  const result = await host.exec(process.execPath, ['-e', script], { timeoutMs: 10_000 });
  if (result.code !== 0) throw new Error(`${method} ${name} at ${server} from ${host.name}: ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as string[];
}

async function pingsAll(member: MeshMember, address: string): Promise<void> {
  const result = await member.ping(address);
  assert.equal(result.received, result.transmitted, `${result.from} -> ${result.to}`);
}

describe('names, dual-stack and subnets across NATs', { skip: E2E_SKIP }, () => {
  const fixture = meshLabFixture(
    { public: ['rolodex'], nats: { home: { kind: 'cone', hosts: ['a1', 'lan1'] }, office: { kind: 'cone', hosts: ['b1'] } } },
    {
      rolodexHost: 'rolodex',
      network: 'lab',
      members: [
        { host: 'a1', vpnIp: '192.168.50.1/24', extraArgs: ['--vpn-ip', 'fd00:50::1/64', '--name', 'alpha', '--advertise-route', '10.1.0.0/24'] },
        { host: 'b1', vpnIp: '192.168.50.2/24', extraArgs: ['--vpn-ip', 'fd00:50::2/64', '--name', 'beta', '--accept-routes'] },
      ],
    },
  );

  test('members learn each other\'s IPv6 address and name, and ping over IPv4 and IPv6', () =>
    fixture.run(async ({ mesh }) => {
      const [a1, b1] = mesh.members;
      await waitForFullMesh(mesh.members, 30_000);
      await waitFor('each member to know the other\'s second address and name', 15_000, async () => {
        const [a, b] = [await a1.peer('192.168.50.2'), await b1.peer('192.168.50.1')];
        return a?.extraVpnIps[0] === 'fd00:50::2' && b?.extraVpnIps[0] === 'fd00:50::1' && a.name === 'beta.lab.meshboi' && b.name === 'alpha.lab.meshboi' ? true : undefined;
      });
      await pingsAll(a1, '192.168.50.2');
      await pingsAll(a1, 'fd00:50::2');
      await pingsAll(b1, 'fd00:50::1');
      assert.match(await b1.statusTable(), /name beta\.lab\.meshboi/);
    }));

  test('names resolve across the NATs through the tunnel: A, AAAA and reverse', () =>
    fixture.run(async () => {
      const [a1, b1] = [fixture.member('a1'), fixture.member('b1')];
      assert.deepEqual(await lookup(b1.host, '192.168.50.1', 'resolve4', 'alpha.lab.meshboi'), ['192.168.50.1']);
      assert.deepEqual(await lookup(b1.host, '192.168.50.1', 'resolve6', 'beta.lab.meshboi'), ['fd00:50::2']);
      assert.deepEqual(await lookup(b1.host, 'fd00:50::1', 'reverse', '192.168.50.2'), ['beta.lab.meshboi']);
      assert.deepEqual(await lookup(a1.host, '192.168.50.2', 'resolve4', 'alpha.lab.meshboi'), ['192.168.50.1']);
      await assert.rejects(lookup(a1.host, '192.168.50.2', 'resolve4', 'nobody.lab.meshboi'), /ENOTFOUND/);
    }));

  test('a host on a1\'s LAN is reached from b1 through the route a1 advertises and b1 accepts', () =>
    fixture.run(async ({ lab }) => {
      const [a1, b1] = [fixture.member('a1'), fixture.member('b1')];
      // a1 forwards between its LAN and the VPN; the LAN host sends VPN traffic back through a1.
      await a1.host.mustExec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      await lab.host('lan1').mustExec('ip', ['route', 'add', '192.168.50.0/24', 'via', a1.host.address]);
      await waitFor('b1 to route 10.1.0.0/24 into its TUN device', 15_000, async () => {
        const routes = await b1.host.mustExec('ip', ['-4', 'route', 'show', '10.1.0.0/24']);
        return /dev tun/.test(routes) ? true : undefined;
      });
      assert.deepEqual((await b1.peer('192.168.50.1'))?.routes, ['10.1.0.0/24']);
      await pingsAll(b1, lab.host('lan1').address);
    }));
});

describe('a TAP network of three members across NATs', { skip: E2E_SKIP }, () => {
  const tap = ['--mode', 'tap'];
  const fixture = meshLabFixture(
    { public: ['rolodex', 'c1'], nats: { home: { kind: 'cone', hosts: ['a1'] }, office: { kind: 'cone', hosts: ['b1'] } } },
    {
      rolodexHost: 'rolodex',
      network: 'lan',
      members: [
        { host: 'a1', vpnIp: '192.168.60.1/24', extraArgs: tap },
        { host: 'b1', vpnIp: '192.168.60.2/24', extraArgs: tap },
        { host: 'c1', vpnIp: '192.168.60.3/24', extraArgs: tap },
      ],
    },
  );

  test('ARP resolves every member\'s MAC through the tunnels and an IPv4 broadcast reaches both others', () =>
    fixture.run(async ({ mesh }) => {
      const [a1, b1, c1] = mesh.members;
      await waitForFullMesh(mesh.members, 30_000);
      // Frames flow once each side has the other's peer-info (it says TAP): the first ping may race it.
      await waitFor('a1 to ping b1 and c1 over the TAP network', 15_000, async () => {
        const results = await Promise.all([a1.ping('192.168.60.2', 1), a1.ping('192.168.60.3', 1)]);
        return results.every((result) => result.received === 1) ? true : undefined;
      });
      const neighbours = await a1.host.mustExec('ip', ['-4', 'neigh', 'show', 'dev', 'tun']);
      for (const ip of ['192.168.60.2', '192.168.60.3']) assert.match(neighbours, new RegExp(`${ip.replace(/\./g, '\\.')} lladdr [0-9a-f:]{17} (REACHABLE|STALE|DELAY)`), neighbours);

      for (const member of [b1, c1]) await member.host.mustExec('sysctl', ['-qw', 'net.ipv4.icmp_echo_ignore_broadcasts=0']);
      const broadcast = await a1.host.exec('ping', ['-b', '-n', '-c', '6', '-i', '0.2', '-w', '5', '192.168.60.255'], { timeoutMs: 15_000 });
      assert.match(broadcast.stdout, /from 192\.168\.60\.2:/, broadcast.stdout + broadcast.stderr);
      assert.match(broadcast.stdout, /from 192\.168\.60\.3:/, broadcast.stdout + broadcast.stderr);
      const status = await a1.status();
      assert.equal(status.drops.flood_limited ?? 0, 0);
    }));
});
