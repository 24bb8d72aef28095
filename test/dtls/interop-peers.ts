// Interop fixture: an independent DTLS implementation (openssl, gnutls) as a child process on
// 127.0.0.1, and our side as a DtlsSession on a real UDP socket, server behind a CookieGate.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { TestContext } from 'node:test';
import { CookieGate, DtlsSession, type CipherSuiteId, type Role } from '../../src/dtls/index';
import { formatEndpoint } from '../../src/net/transport';
import { UdpTransport } from '../../src/net/udp-transport';
import { activeHandles, assertNoLeaks, eventually } from '../member/harness';
import { sleep } from '../support/wait';
import { CLIENT_IDENTITY, EventRecorder, SERVER_IDENTITY } from './session-pair';

export const PSK = Buffer.from('interop test password');
export const LOOPBACK = '127.0.0.1';

/**
 * True when `binary` runs. Otherwise skips the test with the reason, except in CI (which installs
 * openssl and gnutls-bin through .ci/run), where a missing binary is a failure.
 */
export function requireBinary(t: TestContext, binary: string, versionArgs: string[]): boolean {
  const probe = spawnSync(binary, versionArgs, { stdio: 'ignore' });
  if (probe.error === undefined && probe.status === 0) return true;
  if (process.env.CI) throw new Error(`${binary} is not installed, but CI must run the interop tests: add its package to .ci/run`);
  t.skip(`${binary} is not installed (Debian: apt-get install -y ${binary === 'openssl' ? 'openssl' : 'gnutls-bin'})`);
  return false;
}

/** Child processes and sockets release their handles a few turns after they report closed. */
export async function assertNoLeaksOnceSettled(before: Map<string, number>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await assertNoLeaks(before);
    } catch (error) {
      if (attempt >= 20) throw error;
      await sleep(25);
    }
  }
}

/**
 * Starts a listening peer on a free port. Ports come from below the kernel's ephemeral range, so
 * sockets other tests open on port 0 never take them; a port someone holds anyway (the peer says
 * so) is skipped for another.
 */
export async function listeningPeer(
  start: (port: number) => PeerProcess,
  ready: RegExp,
  inUse: RegExp,
): Promise<{ peer: PeerProcess; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const peer = start(port);
    await eventually(`${peer.command} listening on ${port}`, () => ready.test(peer.output) || inUse.test(peer.output) || !peer.isRunning);
    if (ready.test(peer.output) && !inUse.test(peer.output)) return { peer, port };
    await peer.stop();
    if (attempt >= 5) throw new Error(`${peer.command} could not listen:\n${peer.output}`);
  }
}

export class PeerProcess {
  output = '';
  /** The signal that ended the process, e.g. 'SIGSEGV' for a crash; null while running or after a normal exit. */
  exitSignal: NodeJS.Signals | null = null;
  private readonly child: ChildProcessWithoutNullStreams;
  private exited: Promise<void>;
  private running = true;

  constructor(readonly command: string, args: string[]) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stdin.on('error', () => {});
    this.exited = new Promise((resolve) =>
      this.child.on('close', (_code, signal) => {
        this.running = false;
        this.exitSignal = signal;
        resolve();
      }),
    );
  }

  async waitFor(pattern: RegExp, what: string, timeoutMs = 10_000): Promise<void> {
    try {
      await eventually(`${this.command}: ${what}`, () => pattern.test(this.output), timeoutMs);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- ${this.command} output ---\n${this.output}`);
    }
  }

  write(text: string): void {
    this.child.stdin.write(text);
  }

  endInput(): void {
    this.child.stdin.end();
  }

  get isRunning(): boolean {
    return this.running;
  }

  async waitForExit(timeoutMs = 5000): Promise<void> {
    await eventually(`${this.command} exits`, () => !this.running, timeoutMs);
  }

  /** Ends the process (by its own pid) and waits for it, whatever state it is in. */
  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGTERM');
    await this.exited;
  }
}

/** Our side of an interop run: one DtlsSession on a real UDP socket bound to 127.0.0.1. */
export class OurPeer {
  readonly events = new EventRecorder();
  session: DtlsSession | null = null;
  private readonly gate = new CookieGate();

  private constructor(readonly role: Role, private readonly transport: UdpTransport, private readonly suites: readonly CipherSuiteId[]) {}

  static async open(role: Role, suites: readonly CipherSuiteId[]): Promise<OurPeer> {
    const transport = await UdpTransport.open({ address: LOOPBACK, port: 0 });
    return new OurPeer(role, transport, suites);
  }

  get port(): number {
    return this.transport.localEndpoint().port;
  }

  /** Server: answer whoever sends a ClientHello, after the cookie exchange. */
  serve(): void {
    this.transport.onMessage((datagram, from) => {
      if (!this.session) {
        const verdict = this.gate.check(datagram, formatEndpoint(from));
        if (verdict.action === 'reply') return this.transport.send(verdict.datagram, from.port, from.address);
        if (verdict.action === 'drop') return;
        this.session = this.newSession((reply) => this.transport.send(reply, from.port, from.address));
      }
      this.session.handleDatagram(datagram);
    });
  }

  /** Client: handshake with the peer listening on `port`. */
  connect(port: number): void {
    const session = this.newSession((datagram) => this.transport.send(datagram, port, LOOPBACK));
    this.session = session;
    this.transport.onMessage((datagram) => session.handleDatagram(datagram));
    session.start();
  }

  /** Waits for the handshake; a failure names our counters and what the other side printed. */
  async established(other: PeerProcess, timeoutMs = 10_000): Promise<void> {
    try {
      await eventually(`our ${this.role} established`, () => this.session?.state === 'established' || this.events.closes.length > 0, timeoutMs);
    } catch (error) {
      const counters = JSON.stringify(this.session?.counters ?? null);
      throw new Error(`${(error as Error).message}; our counters ${counters}\n--- ${other.command} output ---\n${other.output}`);
    }
    if (this.session?.state !== 'established') throw new Error(`our ${this.role} failed: ${JSON.stringify(this.events.closes)}`);
  }

  async received(text: string): Promise<void> {
    await eventually(`our ${this.role} receives "${text.trim()}"`, () => this.events.data.some((data) => data.toString().includes(text)));
  }

  async close(): Promise<void> {
    this.session?.abort();
    await this.transport.close();
  }

  private newSession(send: (datagram: Buffer) => void): DtlsSession {
    return new DtlsSession(
      { role: this.role, psk: PSK, identity: this.role === 'client' ? CLIENT_IDENTITY : SERVER_IDENTITY, cipherSuites: this.suites, send },
      this.events,
    );
  }
}

/** A listening peer process, and what to remove once it is stopped (a PSK file). */
export interface ListeningServer {
  peer: PeerProcess;
  port: number;
  remove?: () => void;
}

/**
 * Our client against a server process: starts both, connects, runs `body`, then stops both (also
 * when `body` fails) and checks that the test left no socket, timer or process behind.
 */
export async function withOurClient(
  suites: readonly CipherSuiteId[],
  startServer: () => Promise<ListeningServer>,
  body: (ours: OurPeer, server: PeerProcess) => Promise<void>,
): Promise<void> {
  const before = activeHandles();
  const { peer: server, port, remove } = await startServer();
  const ours = await OurPeer.open('client', suites);
  try {
    ours.connect(port);
    await body(ours, server);
  } finally {
    await server.stop();
    await ours.close();
    remove?.();
  }
  await assertNoLeaksOnceSettled(before);
}

/** Our server against a client process started on our port; otherwise as withOurClient. */
export async function withOurServer(
  suites: readonly CipherSuiteId[],
  startClient: (port: number) => PeerProcess,
  body: (ours: OurPeer, client: PeerProcess) => Promise<void>,
): Promise<void> {
  const before = activeHandles();
  const ours = await OurPeer.open('server', suites);
  ours.serve();
  const client = startClient(ours.port);
  try {
    await body(ours, client);
  } finally {
    await client.stop();
    await ours.close();
  }
  await assertNoLeaksOnceSettled(before);
}
