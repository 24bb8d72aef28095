// Our member beside a pion peer that behaves as an original member (test/pion/peer), through our
// rolodex on loopback: both roles, pings both ways, idle keepalives, a rolodex outage, restarts of
// our member on a new port and on the same port. The pion peer exits non-zero on any read error,
// as the original does, so "still running" at the end of each step is the point of these tests.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { RolodexServer } from '../../rolodex/server';
import { startMember, type Member, type MemberTimings } from '../../src/member/main';
import { UdpTransport } from '../../src/net/udp-transport';
import { ChannelDevice } from '../../src/tun/channel-device';
import { capturedLogger, eventually, sleep } from '../member/harness';
import { LOOPBACK, PeerProcess } from '../dtls/interop-peers';
import { icmpEcho, readEcho, readIp } from '../tun/packets';
import { requirePionPeer } from './pion-peer';

const PSK = Buffer.from('pion interop password');
const OUR_VPN_IP = '192.168.50.1';
const PION_VPN_IP = '192.168.50.9';
/** Keepalives every 500 ms so that several intervals pass in seconds; the rest as shipped. */
const TIMINGS: Partial<MemberTimings> = {
  heartbeatMs: 500,
  keepaliveMs: 500,
  retryInitialMs: 300,
  retryMaxMs: 1_000,
  handshakeRetransmitMs: 250,
  handshakeMaxTries: 3,
};
const KEEPALIVE_INTERVALS = 4;

class OurMember {
  private constructor(readonly member: Member, readonly device: ChannelDevice, private readonly transport: UdpTransport) {}

  static async start(port: number, rolodexPort: number): Promise<OurMember> {
    const transport = await UdpTransport.open({ address: LOOPBACK, port });
    const device = new ChannelDevice('tun-ours');
    const member = await startMember(
      { network: 'pionnet', psk: PSK, vpnIp: OUR_VPN_IP, vpnPrefixLength: 24, rolodexes: [{ address: LOOPBACK, port: rolodexPort }] },
      { transport, device },
      { timings: TIMINGS, log: capturedLogger().log },
    );
    return new OurMember(member, device, transport);
  }

  pionStatus() {
    return this.member.status().peers.find((peer) => peer.vpnIp === PION_VPN_IP);
  }

  async established(pion: PeerProcess, timeoutMs = 15_000): Promise<void> {
    try {
      await eventually('our member established with the pion peer', () => this.pionStatus()?.state === 'established', timeoutMs);
    } catch (error) {
      throw new Error(`${(error as Error).message}\nour status: ${JSON.stringify(this.member.status().peers)}\n--- pion ---\n${pion.output}`);
    }
    await pion.waitFor(new RegExp(`established ${OUR_VPN_IP.replace(/\./g, '\\.')} at 127\\.0\\.0\\.1:${this.port}`), 'pion established with us');
  }

  get port(): number {
    return this.transport.localEndpoint().port;
  }

  /** An echo request through the tunnel: pion answers it in process, so data crosses both ways. */
  async ping(sequence: number): Promise<void> {
    const written = this.device.written.length;
    this.device.inject(icmpEcho(OUR_VPN_IP, PION_VPN_IP, { identifier: 7, sequence, data: Buffer.from(`meshboi ${sequence}`) }));
    await this.device.waitForWritten(written + 1, 5_000);
    const reply = readIp(this.device.written[written]);
    const echo = reply ? readEcho(reply) : null;
    assert.equal(reply?.source, PION_VPN_IP);
    assert.deepEqual(echo && { reply: echo.reply, sequence: echo.sequence }, { reply: true, sequence });
  }

  async stop(): Promise<void> {
    await this.member.stop();
    await this.transport.close();
  }
}

/** Ports below the ephemeral range, so sockets other tests open on port 0 never take them. */
function portBase(): number {
  return 20_000 + Math.floor(Math.random() * 1_200) * 10;
}

async function withPionMesh(t: TestContext, body: (env: { pion: PeerProcess; rolodexPort: number; pionPort: number; restartRolodex: () => Promise<void>; stopRolodex: () => Promise<void> }) => Promise<void>): Promise<void> {
  const binary = requirePionPeer(t);
  if (!binary) return;
  const base = portBase();
  const rolodexPort = base;
  const pionPort = base + 5;
  const folder = mkdtempSync(join(tmpdir(), 'meshboi-pion-'));
  const pskFile = join(folder, 'psk');
  writeFileSync(pskFile, PSK, { mode: 0o600 });
  let rolodex: RolodexServer | null = null;
  const startRolodex = async (): Promise<void> => {
    rolodex = new RolodexServer(await UdpTransport.open({ address: LOOPBACK, port: rolodexPort }), { mapIntervalMs: 500, joinFlushMs: 0, summaryIntervalMs: 0 });
    rolodex.start();
  };
  /** The server closes its transport. */
  const stopRolodex = async (): Promise<void> => {
    await rolodex?.stop();
    rolodex = null;
  };
  await startRolodex();
  const pion = new PeerProcess(binary, [
    'member', '-rolodex', `${LOOPBACK}:${rolodexPort}`, '-network', 'pionnet', '-psk-file', pskFile,
    '-vpn-ip', `${PION_VPN_IP}/24`, '-listen', `${LOOPBACK}:${pionPort}`,
  ]);
  try {
    await pion.waitFor(/listening on/, 'pion listening');
    await body({ pion, rolodexPort, pionPort, restartRolodex: startRolodex, stopRolodex });
    assert.ok(pion.isRunning, `the pion peer exited:\n${pion.output}`);
    assert.doesNotMatch(pion.output, /FATAL/);
  } finally {
    await pion.stop();
    await stopRolodex();
    rmSync(folder, { recursive: true, force: true });
  }
}

async function assertPionAlive(pion: PeerProcess, step: string): Promise<void> {
  assert.ok(pion.isRunning, `the pion peer exited after ${step}:\n${pion.output}`);
}

for (const role of ['client', 'server'] as const) {
  test(`pion: our member as DTLS ${role} and an original-style pion member mesh, ping, idle, ride out a rolodex outage and our restarts`, async (t) => {
    await withPionMesh(t, async ({ pion, rolodexPort, pionPort, restartRolodex, stopRolodex }) => {
      // The larger outside address is the server: all are 127.0.0.1 here, so the port decides.
      const ourPorts = role === 'server' ? [pionPort + 1, pionPort + 2] : [pionPort - 2, pionPort - 1];
      let ours = await OurMember.start(ourPorts[0], rolodexPort);
      try {
        await ours.established(pion);
        assert.equal(ours.pionStatus()?.role, role);
        assert.equal(ours.pionStatus()?.kind, 'original');
        assert.equal(ours.pionStatus()?.cipherSuite, 'TLS_PSK_WITH_AES_128_CCM_8');
        await ours.ping(1);

        await sleep(KEEPALIVE_INTERVALS * TIMINGS.keepaliveMs!);
        await assertPionAlive(pion, `${KEEPALIVE_INTERVALS} keepalive intervals`);
        await ours.ping(2);

        await stopRolodex();
        await sleep(KEEPALIVE_INTERVALS * TIMINGS.keepaliveMs!);
        await ours.ping(3);
        await assertPionAlive(pion, 'a rolodex outage');
        await restartRolodex();

        // A restart on a new port is a new outside address: the original meets it as a new member.
        await ours.stop();
        ours = await OurMember.start(ourPorts[1], rolodexPort);
        await ours.established(pion, 20_000);
        await ours.ping(4);
        await assertPionAlive(pion, 'our restart on a new port');

        // On the same port the original keeps its old session for our address for good: we cannot
        // reconnect, and nothing we send while we try may end its process.
        await ours.stop();
        ours = await OurMember.start(ourPorts[1], rolodexPort);
        const pionOutside = `${LOOPBACK}:${pionPort}`;
        const listed = () => ours.member.status().peers.find((peer) => peer.outsideAddress === pionOutside);
        await eventually('our member learns the pion peer again', () => listed() !== undefined, 10_000);
        await sleep(6_000);
        await assertPionAlive(pion, 'our restart on the same port');
        assert.notEqual(listed()?.state, 'established');
      } finally {
        await ours.stop();
      }
    });
  });
}
