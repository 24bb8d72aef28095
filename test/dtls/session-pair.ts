// Test fixture: one client and one server DtlsSession over the in-memory network, the server
// behind a CookieGate as the member runs it, with every event recorded for assertions.
import type { CipherSuiteId, CloseReason, HandshakeInfo, SessionConfig, SessionEvents } from '../../src/dtls/api';
import type { Clock } from '../../src/clock';
import { CookieGate, DtlsSession } from '../../src/dtls/index';
import { MemoryNetwork, type Interceptor, type MemoryTransport } from '../../src/net/memory-network';
import { formatEndpoint } from '../../src/net/transport';

export class EventRecorder implements SessionEvents {
  info: HandshakeInfo | null = null;
  readonly data: Buffer[] = [];
  readonly closes: CloseReason[] = [];

  onHandshakeComplete(info: HandshakeInfo): void {
    this.info = info;
  }

  onData(plaintext: Buffer): void {
    this.data.push(Buffer.from(plaintext));
  }

  onClose(reason: CloseReason): void {
    this.closes.push(reason);
  }
}

export interface PairOptions {
  clientPsk?: Buffer;
  serverPsk?: Buffer;
  clientSuites?: readonly CipherSuiteId[];
  serverSuites?: readonly CipherSuiteId[];
  interceptor?: Interceptor;
  retransmitInitialMs?: number;
  retransmitMaxTries?: number;
  /** Where both sessions' retransmission timers run; the system clock unless a test steps one. */
  clock?: Clock;
  /** Which side behaves like an original (pion) peer: no meshboi extension offered or echoed. */
  original?: 'client' | 'server';
}

export const CLIENT_IDENTITY = '192.168.50.1';
export const SERVER_IDENTITY = '192.168.50.2';

export class SessionPair {
  readonly network = new MemoryNetwork();
  readonly clientTransport: MemoryTransport;
  readonly serverTransport: MemoryTransport;
  readonly gate = new CookieGate();
  readonly client: DtlsSession;
  server: DtlsSession | null = null;
  readonly clientEvents = new EventRecorder();
  readonly serverEvents = new EventRecorder();
  readonly gateDrops: string[] = [];

  constructor(private readonly options: PairOptions = {}) {
    if (options.interceptor) this.network.interceptor = options.interceptor;
    this.clientTransport = this.network.attach('10.0.0.1', 5000);
    this.serverTransport = this.network.attach('10.0.0.2', 6000);
    const serverEndpoint = this.serverTransport.localEndpoint();
    this.client = new DtlsSession(
      this.config('client', options.clientPsk, options.clientSuites, (datagram) =>
        this.clientTransport.send(datagram, serverEndpoint.port, serverEndpoint.address),
      ),
      this.clientEvents,
    );
    this.clientTransport.onMessage((datagram) => this.client.handleDatagram(datagram));
    this.serverTransport.onMessage((datagram, from) => {
      if (!this.server) {
        const verdict = this.gate.check(datagram, formatEndpoint(from));
        if (verdict.action === 'reply') return this.serverTransport.send(verdict.datagram, from.port, from.address);
        if (verdict.action === 'drop') return void this.gateDrops.push(verdict.reason);
        this.server = new DtlsSession(
          this.config('server', options.serverPsk, options.serverSuites, (reply) => this.serverTransport.send(reply, from.port, from.address)),
          this.serverEvents,
        );
      }
      this.server.handleDatagram(datagram);
    });
  }

  /** Injects a datagram as if the network delivered it to the client (`to: 'client'`) or server. */
  deliver(to: 'client' | 'server', datagram: Buffer): void {
    const from = to === 'client' ? this.serverTransport.localEndpoint() : this.clientTransport.localEndpoint();
    (to === 'client' ? this.clientTransport : this.serverTransport).deliver(Buffer.from(datagram), from);
  }

  get established(): boolean {
    return this.client.state === 'established' && this.server?.state === 'established';
  }

  async close(): Promise<void> {
    this.client.abort();
    this.server?.abort();
    await this.clientTransport.close();
    await this.serverTransport.close();
    // Let deliveries already scheduled by the network run (they find closed transports).
    await new Promise((resolve) => setImmediate(resolve));
  }

  private config(role: 'client' | 'server', psk: Buffer | undefined, suites: readonly CipherSuiteId[] | undefined, send: (datagram: Buffer) => void): SessionConfig {
    return {
      role,
      psk: psk ?? Buffer.from('testpassword'),
      identity: role === 'client' ? CLIENT_IDENTITY : SERVER_IDENTITY,
      cipherSuites: suites,
      send,
      retransmitInitialMs: this.options.retransmitInitialMs ?? 50,
      retransmitMaxTries: this.options.retransmitMaxTries,
      announceMeshboi: this.options.original !== role,
      clock: this.options.clock,
    };
  }
}
