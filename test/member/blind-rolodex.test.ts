// Blind networks against a rolodex that records or forges: it learns neither the name, the LAN
// endpoints nor (from the identity hint) the VPN IPs, and nothing it invents, moves, replays or
// brings from another network makes a member send anything anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlindNetwork, VOUCHER_MAX_AGE_MS } from '../../src/member/blind-network';
import type { InFlight } from '../../src/net/memory-network';
import { formatEndpoint, type Endpoint } from '../../src/net/transport';
import { decodeHeartbeat, encodeHeartbeat, encodeMap } from '../../src/rolodex-wire';
import { PSK, withMesh, type Mesh } from './mesh';

const ROLODEX = '198.51.100.1';
const NAME = 'acme-secret-lab';

/** The identity hints of every ServerKeyExchange in a datagram (DTLS records of epoch 0). */
function identityHints(datagram: Buffer): string[] {
  const hints: string[] = [];
  for (let offset = 0; offset + 13 <= datagram.length; ) {
    const length = datagram.readUInt16BE(offset + 11);
    const body = datagram.subarray(offset + 13, offset + 13 + length);
    // Handshake (22) in epoch 0; a ServerKeyExchange (12) begins with the hint after its 12-byte header.
    if (datagram[offset] === 22 && datagram.readUInt16BE(offset + 3) === 0 && body[0] === 12 && body.length >= 14) {
      hints.push(body.subarray(14, 14 + body.readUInt16BE(12)).toString('latin1'));
    }
    offset += 13 + length;
  }
  return hints;
}

/** Records what the rolodex hears and says, and every identity hint, then runs an office of two and a remote member. */
async function recordOffice(mesh: Mesh, blind: boolean): Promise<{ rolodexTraffic: string; hints: string[] }> {
  const heard: Buffer[] = [];
  const hints: string[] = [];
  mesh.network.interceptor = (d) => {
    if (d.to.address === ROLODEX || d.from.address === ROLODEX) heard.push(d.data);
    hints.push(...identityHints(d.data));
    return d;
  };
  const office = mesh.network.addNat({ publicAddress: '203.0.113.1', hairpin: false });
  await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '10.0.0.2', nat: office, advertiseLocal: true, blind, network: NAME });
  await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '10.0.0.3', nat: office, advertiseLocal: true, blind, network: NAME });
  await mesh.addMember('carol', { vpnIp: '192.168.50.3', address: '192.0.2.30', blind, network: NAME });
  const bobAsSeen = await mesh.waitEstablished('alice', '192.168.50.2');
  assert.match(bobAsSeen.endpoint, /^10\.0\.0\.3:/, 'the LAN endpoints reached the peers');
  for (const [from, to] of [['alice', 'bob'], ['bob', 'alice'], ['alice', 'carol'], ['carol', 'bob']]) {
    await mesh.waitEstablished(from, mesh.get(to).config.vpnIp);
    await mesh.ping(from, to);
  }
  return { rolodexTraffic: Buffer.concat(heard).toString('latin1'), hints };
}

test('a rolodex that records everything learns neither the name nor the LAN endpoints of a blind network, and no hint tells a VPN IP', async () => {
  await withMesh(async (mesh) => {
    const { rolodexTraffic, hints } = await recordOffice(mesh, true);
    assert.ok(rolodexTraffic.includes(new BlindNetwork(PSK, NAME).tag), 'the recording did capture the heartbeats');
    assert.ok(!rolodexTraffic.includes(NAME), 'the name never reaches the rolodex');
    assert.ok(!rolodexTraffic.includes('10.0.0.'), 'nor a LAN endpoint');
    assert.ok(!rolodexTraffic.includes('192.168.50.'), 'nor a VPN IP');
    assert.ok(hints.length > 0, 'the recording did capture the server flights');
    for (const hint of hints) assert.ok(!hint.includes('192.168.50.'), `hint ${hint} tells a VPN IP`);
  });
});

test('the same office in a plain network shows what blind hides', async () => {
  await withMesh(async (mesh) => {
    const { rolodexTraffic, hints } = await recordOffice(mesh, false);
    assert.ok(rolodexTraffic.includes(NAME));
    assert.ok(rolodexTraffic.includes('10.0.0.2'));
    assert.ok(hints.some((hint) => hint.startsWith('192.168.50.')));
  });
});

test('a forging rolodex (invented, moved, replayed and foreign entries, forged LAN endpoints) gets no datagram sent to a forged endpoint', async () => {
  await withMesh(async (mesh) => {
    const fake = mesh.network.attach('198.51.100.66', 6264);
    const honest = new BlindNetwork(PSK, NAME);
    const real: Endpoint = { address: '192.0.2.77', port: 7000 };
    const at = (i: number): Endpoint => ({ address: `198.18.0.${i}`, port: 9999 });
    fake.onMessage((data, from) => {
      const heartbeat = decodeHeartbeat(data);
      assert.ok(heartbeat.ok);
      assert.equal(heartbeat.value.networkName, honest.tag);
      const now = mesh.clock.now();
      const random = Buffer.alloc(60, 7).toString('base64url');
      const opaque = new Map<string, string>([
        [formatEndpoint(at(1)), random],
        [formatEndpoint(at(3)), honest.sealVoucher({ outside: real, issuedAt: now, locals: [] })],
        [formatEndpoint(at(4)), honest.sealVoucher({ outside: at(4), issuedAt: now - VOUCHER_MAX_AGE_MS - 1000, locals: [] })],
        [formatEndpoint(at(5)), new BlindNetwork(PSK, 'another-network').sealVoucher({ outside: at(5), issuedAt: now, locals: [] })],
        [formatEndpoint(real), honest.sealVoucher({ outside: real, issuedAt: now, locals: [] })],
      ]);
      const local = new Map([
        [formatEndpoint(at(2)), [at(12)]],
        [formatEndpoint(real), [at(13)]],
      ]);
      const addresses = [from, at(1), at(2), at(3), at(4), at(5), real];
      fake.send(encodeMap({ addresses, yourIndex: 0, local, gone: [], meshboi: true, opaque }), from.port, from.address);
    });
    const toward = new Map<string, number>();
    mesh.network.interceptor = (d: InFlight) => {
      if (d.from.address === '192.0.2.10') toward.set(d.to.address, (toward.get(d.to.address) ?? 0) + 1);
      return d;
    };
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', blind: true, network: NAME, rolodexes: [{ address: '198.51.100.66', port: 6264 }] });
    await mesh.run(3000);
    const forged = [...toward.keys()].filter((address) => address.startsWith('198.18.'));
    assert.deepEqual(forged, [], 'no datagram toward a forged endpoint');
    assert.ok((toward.get(real.address) ?? 0) > 0, 'the genuine entry is tried, so the check is not vacuous');
    assert.deepEqual(alice.member.status().peers.map((peer) => peer.outsideAddress), [formatEndpoint(real)]);
    assert.ok(alice.member.status().drops.rolodex_unvouched > 0);
    await fake.close();
  });
});

test('2,000 spoofed heartbeats in a blind network fill no peer table and a real joiner connects', async () => {
  await withMesh(async (mesh) => {
    const tag = new BlindNetwork(PSK, NAME).tag;
    const rolodex = { address: ROLODEX, port: 6264 };
    const spoof = (): void => {
      for (let i = 0; i < 2000; i++) {
        const from = { address: `198.18.${i >> 8}.${i & 255}`, port: 9999 };
        // A replayed voucher of a real member rides along: it names another endpoint, so it opens for none of these.
        const data = encodeHeartbeat({ networkName: tag, local: [{ address: '10.9.9.9', port: 1 }], meshboi: true, opaque: captured ?? undefined });
        mesh.network.route({ from, to: rolodex, data });
      }
    };
    let captured: string | null = null;
    mesh.network.interceptor = (d) => {
      if (d.to.address === ROLODEX && d.from.address === '192.0.2.10') captured = (decodeHeartbeat(d.data) as { value: { opaque?: string } }).value.opaque ?? captured;
      return d;
    };
    const alice = await mesh.addMember('alice', { vpnIp: '192.168.50.1', address: '192.0.2.10', blind: true, network: NAME });
    await mesh.run(200);
    spoof();
    const again = mesh.clock.setInterval(spoof, 400);
    try {
      await mesh.run(300);
      assert.ok(mesh.rolodexes[0].stats().members > 2000, 'the rolodex did list the spoofed members');
      await mesh.addMember('bob', { vpnIp: '192.168.50.2', address: '192.0.2.20', blind: true, network: NAME });
      await mesh.waitEstablished('alice', '192.168.50.2', 10_000);
      await mesh.waitEstablished('bob', '192.168.50.1', 10_000);
      await mesh.ping('bob', 'alice');
      for (const name of ['alice', 'bob']) assert.equal(mesh.get(name).member.status().peers.length, 1, `${name} holds its real peer only`);
      assert.ok(alice.member.status().drops.rolodex_unvouched > 0, 'alice was listed the spoofed members, and tried none');
    } finally {
      mesh.clock.clear(again);
    }
    assert.ok(captured !== null);
    assert.equal(alice.member.status().drops.unanswered_throttled, 0, 'nothing was even tried toward the spoofed sources');
  });
});
