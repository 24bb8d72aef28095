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
import { capturedLogger, type LogCapture } from '../member/harness';
import { eventually, sleep } from '../support/wait';
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
  private constructor(
    readonly member: Member,
    readonly device: ChannelDevice,
    private readonly transport: UdpTransport,
    private readonly logs: LogCapture,
  ) {}

  static async start(port: number, rolodexPort: number, psk = PSK): Promise<OurMember> {
    const transport = await UdpTransport.open({ address: LOOPBACK, port });
    const device = new ChannelDevice('tun-ours');
    const { log, capture } = capturedLogger();
    const member = await startMember(
      { network: 'pionnet', psk, vpnIp: OUR_VPN_IP, vpnPrefixLength: 24, rolodexes: [{ address: LOOPBACK, port: rolodexPort }] },
      { transport, device },
      { timings: TIMINGS, log },
    );
    return new OurMember(member, device, transport, capture);
  }

  pionStatus() {
    return this.member.status().peers.find((peer) => peer.vpnIp === PION_VPN_IP);
  }

  /** Until our member and the pion peer (listening on `pionPort`, when given) hold a session. */
  async established(pion: PeerProcess, timeoutMs = 15_000, pionPort?: number): Promise<void> {
    const at = pionPort === undefined ? undefined : `${LOOPBACK}:${pionPort}`;
    try {
      await eventually('our member established with the pion peer', () => {
        const status = this.pionStatus();
        return status?.state === 'established' && (at === undefined || status.endpoint === at);
      }, timeoutMs);
    } catch (error) {
      const logs = this.logs.lines.slice(-40).map((line) => `${String(line.level)} ${String(line.message)} ${JSON.stringify({ ...line, level: undefined, message: undefined })}`);
      throw new Error(`${(error as Error).message}\nour status: ${JSON.stringify(this.member.status().peers)}\n--- our log ---\n${logs.join('\n')}\n--- pion ---\n${pion.output}`);
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

/**
 * A rolodex on loopback and pion peers started on demand; everything is stopped afterwards, and a
 * pion peer that exited (a read error) or printed FATAL fails the test.
 */
class PionLab {
  /** Ports below the ephemeral range, so sockets other tests open on port 0 never take them. */
  readonly rolodexPort: number;
  readonly pionPort: number;
  readonly pions: PeerProcess[] = [];
  private rolodex: RolodexServer | null = null;
  private readonly folder = mkdtempSync(join(tmpdir(), 'meshboi-pion-'));
  private readonly pskFile = join(this.folder, 'psk');

  constructor(private readonly binary: string) {
    const base = 20_000 + Math.floor(Math.random() * 1_200) * 10;
    this.rolodexPort = base;
    this.pionPort = base + 5;
    writeFileSync(this.pskFile, PSK, { mode: 0o600 });
  }

  async startRolodex(): Promise<void> {
    this.rolodex = new RolodexServer(await UdpTransport.open({ address: LOOPBACK, port: this.rolodexPort }), { mapIntervalMs: 500, joinFlushMs: 0, summaryIntervalMs: 0 });
    this.rolodex.start();
  }

  /** The server closes its transport. */
  async stopRolodex(): Promise<void> {
    await this.rolodex?.stop();
    this.rolodex = null;
  }

  async startPion(port = this.pionPort): Promise<PeerProcess> {
    const pion = new PeerProcess(this.binary, [
      'member', '-rolodex', `${LOOPBACK}:${this.rolodexPort}`, '-network', 'pionnet', '-psk-file', this.pskFile,
      '-vpn-ip', `${PION_VPN_IP}/24`, '-listen', `${LOOPBACK}:${port}`,
    ]);
    this.pions.push(pion);
    await pion.waitFor(/listening on/, 'pion listening');
    return pion;
  }

  /** Stops a pion peer on purpose (a restart), after checking it had not died on its own. */
  async restartPion(pion: PeerProcess, port: number): Promise<PeerProcess> {
    assertPionAlive(pion, 'running until its restart');
    await pion.stop();
    return this.startPion(port);
  }

  static async run(t: TestContext, body: (lab: PionLab) => Promise<void>): Promise<void> {
    const binary = requirePionPeer(t);
    if (!binary) return;
    const lab = new PionLab(binary);
    try {
      await lab.startRolodex();
      await body(lab);
      const last = lab.pions[lab.pions.length - 1];
      assertPionAlive(last, 'the test');
      for (const pion of lab.pions) assert.doesNotMatch(pion.output, /FATAL/);
    } finally {
      for (const pion of lab.pions) await pion.stop();
      await lab.stopRolodex();
      rmSync(lab.folder, { recursive: true, force: true });
    }
  }
}

function assertPionAlive(pion: PeerProcess, step: string): void {
  assert.ok(pion.isRunning, `the pion peer exited after ${step}:\n${pion.output}`);
}

for (const role of ['client', 'server'] as const) {
  test(`pion: our member as DTLS ${role} and an original-style pion member mesh, ping, idle, ride out a rolodex outage and our restarts`, async (t) => {
    await PionLab.run(t, async (lab) => {
      const pion = await lab.startPion();
      const { rolodexPort, pionPort } = lab;
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
        assertPionAlive(pion, `${KEEPALIVE_INTERVALS} keepalive intervals`);
        await ours.ping(2);

        await lab.stopRolodex();
        await sleep(KEEPALIVE_INTERVALS * TIMINGS.keepaliveMs!);
        await ours.ping(3);
        assertPionAlive(pion, 'a rolodex outage');
        await lab.startRolodex();

        // A restart on a new port is a new outside address: the original meets it as a new member.
        await ours.stop();
        ours = await OurMember.start(ourPorts[1], rolodexPort);
        await ours.established(pion, 20_000);
        await ours.ping(4);
        assertPionAlive(pion, 'our restart on a new port');

        // On the same port the original keeps its old session for our address for good: we cannot
        // reconnect, and nothing we send while we try may end its process.
        await ours.stop();
        ours = await OurMember.start(ourPorts[1], rolodexPort);
        const pionOutside = `${LOOPBACK}:${pionPort}`;
        const listed = () => ours.member.status().peers.find((peer) => peer.outsideAddress === pionOutside);
        await eventually('our member learns the pion peer again', () => listed() !== undefined, 10_000);
        await sleep(6_000);
        assertPionAlive(pion, 'our restart on the same port');
        assert.notEqual(listed()?.state, 'established');
      } finally {
        await ours.stop();
      }
    });
  });
}

for (const role of ['client', 'server'] as const) {
  test(`pion: our member as DTLS ${role} reconnects to a pion peer restarted on the same port and on a new port`, async (t) => {
    await PionLab.run(t, async (lab) => {
      let pion = await lab.startPion();
      const ours = await OurMember.start(role === 'server' ? lab.pionPort + 1 : lab.pionPort - 1, lab.rolodexPort);
      try {
        await ours.established(pion);
        await ours.ping(1);

        // Same port: our session is stale; its `hello` (or ClientHello) makes us handshake anew
        // while our keepalives and old-key records must not upset its new session.
        pion = await lab.restartPion(pion, lab.pionPort);
        await ours.established(pion, 30_000);
        await eventually('a fresh session', () => (ours.pionStatus()?.sinceHandshakeMs ?? Infinity) < 30_000);
        await ours.ping(2);

        // A new port on the same side of ours keeps the roles: a new outside address, a new peer,
        // which takes the VPN IP over once the old session has been silent for two keepalives.
        const newPort = role === 'server' ? lab.pionPort - 1 : lab.pionPort + 2;
        pion = await lab.restartPion(pion, newPort);
        await ours.established(pion, 45_000, newPort);
        await ours.ping(3);
      } finally {
        await ours.stop();
      }
    });
  });
}

test('pion: our member with the wrong PSK never ends the pion peer and says why', async (t) => {
  await PionLab.run(t, async (lab) => {
    const pion = await lab.startPion();
    const ours = await OurMember.start(lab.pionPort - 1, lab.rolodexPort, Buffer.from('not the password'));
    try {
      const pionOutside = `${LOOPBACK}:${lab.pionPort}`;
      const failed = () => ours.member.status().peers.find((peer) => peer.outsideAddress === pionOutside && peer.lastError !== null);
      await eventually('our member reports the failed handshake', () => failed() !== undefined, 15_000);
      await sleep(KEEPALIVE_INTERVALS * TIMINGS.keepaliveMs!);
      assertPionAlive(pion, 'handshakes with the wrong PSK');
      assert.notEqual(failed()?.state, 'established');
    } finally {
      await ours.stop();
    }
  });
});
