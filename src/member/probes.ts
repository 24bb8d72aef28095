// `meshboi ping` inside the member: sends a probe record (probe-codec.ts) through a peer's DTLS
// session, times its reply, and answers the probes of our own peers. Probes never go to an
// original peer, which would write them to its TUN device as if they were IP packets.
import type { ClockTimer } from '../clock';
import { formatEndpoint } from '../net/transport';
import type { Path } from './peer';
import type { PeerStore } from './peer-store';
import { decodeProbeRecord, encodeProbeRecord, isProbeRecord } from './probe-codec';
import type { TimerSet } from './timers';
import { parseVpnAddress } from './vpn-address';

/**
 * How a probe reached the peer. Today every session is direct (its endpoint: the outside address
 * or a LAN endpoint behind our NAT); a relayed session will add `{ kind: 'relay'; relay: string }`.
 */
export type ProbeRoute = { kind: 'direct'; endpoint: string };

export interface ProbeResult {
  vpnIp: string;
  rttMs: number;
  route: ProbeRoute;
}

export type ProbeErrorCode = 'bad_address' | 'unknown_peer' | 'not_established' | 'original_peer' | 'busy' | 'timeout' | 'stopped';

/** Says what was wrong and what to do; `code` lets callers and tests tell the cases apart. */
export class ProbeError extends Error {
  constructor(readonly code: ProbeErrorCode, message: string) {
    super(message);
    this.name = 'ProbeError';
  }
}

/** Probes awaiting their reply at most, so a stuck caller cannot pile up timers. */
const MAX_IN_FLIGHT = 64;

interface InFlight {
  path: Path;
  sentAt: number;
  timer: ClockTimer;
  resolve(result: ProbeResult): void;
  reject(error: ProbeError): void;
}

export class Probes {
  private readonly inFlight = new Map<number, InFlight>();
  private nextId = Math.floor(Math.random() * 0xffff_ffff);
  private stopped = false;

  constructor(
    private readonly store: PeerStore,
    private readonly timers: TimerSet,
    private readonly timeoutMs: number,
    /** Milliseconds for round trips, fractions included where the clock has them. */
    private readonly now: () => number,
  ) {}

  /** One probe to the peer holding `vpnIp`; resolves with the round trip, rejects with a ProbeError. */
  ping(vpnIp: string): Promise<ProbeResult> {
    const address = parseVpnAddress(vpnIp);
    if (!address) return Promise.reject(new ProbeError('bad_address', `"${vpnIp}" is not an IPv4 or IPv6 address; give the peer's VPN IP, e.g. 192.168.50.2`));
    const peer = this.store.byVpnIp.get(address.text);
    if (!peer) {
      return Promise.reject(new ProbeError('unknown_peer', `no peer has VPN IP ${address.text}; \`meshboi status\` lists the peers this member knows`));
    }
    const path = peer.active;
    if (!path) {
      const why = peer.lastError ? ` (last error: ${peer.lastError})` : '';
      return Promise.reject(new ProbeError('not_established', `peer ${address.text} is ${peer.state}, not established${why}; wait, or see \`meshboi status\``));
    }
    if (peer.kind !== 'meshboi') {
      return Promise.reject(
        new ProbeError('original_peer', `peer ${address.text} runs the original meshboi, which cannot answer probes; use plain \`ping ${address.text}\` instead`),
      );
    }
    if (this.stopped) return Promise.reject(new ProbeError('stopped', 'the member is stopping'));
    if (this.inFlight.size >= MAX_IN_FLIGHT) return Promise.reject(new ProbeError('busy', `${MAX_IN_FLIGHT} probes already await replies; try again in a moment`));
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0;
    return new Promise((resolve, reject) => {
      const timer = this.timers.after(this.timeoutMs, () => {
        this.inFlight.delete(id);
        reject(new ProbeError('timeout', `no reply from ${address.text} within ${this.timeoutMs} ms (a lost datagram, or a peer running a meshboi without probes)`));
      });
      this.inFlight.set(id, { path, sentAt: this.now(), timer, resolve, reject });
      if (!path.session.send(encodeProbeRecord({ type: 'probe', id }))) {
        this.settle(id)?.reject(new ProbeError('not_established', `the session with ${address.text} refused the probe; it is closing`));
      }
    });
  }

  /**
   * A record's plaintext from `path`: true when it was a ping probe record of one of our own peers
   * (answered, or matched to our probe), false for anything else (size probes are path-mtu.ts's).
   */
  receive(path: Path, plaintext: Buffer): boolean {
    if (!isProbeRecord(plaintext) || !path.info?.peerIsMeshboi) return false;
    const decoded = decodeProbeRecord(plaintext);
    if (!decoded.ok) return false;
    const { type, id } = decoded.value;
    if (type === 'size' || type === 'size-reply') return false;
    if (type === 'probe') {
      path.session.send(encodeProbeRecord({ type: 'reply', id }));
      return true;
    }
    // A late reply (its probe timed out), or one from another peer than the probed: ignored.
    const waiting = this.inFlight.get(id);
    if (!waiting || waiting.path.peer !== path.peer) return true;
    this.settle(id);
    const vpnIp = path.peer?.vpn?.text ?? path.remoteKey;
    waiting.resolve({ vpnIp, rttMs: this.now() - waiting.sentAt, route: { kind: 'direct', endpoint: formatEndpoint(path.remote) } });
    return true;
  }

  /** Every probe in flight fails; no new one starts. The caller clears the timers. */
  stop(): void {
    this.stopped = true;
    for (const id of [...this.inFlight.keys()]) this.settle(id)?.reject(new ProbeError('stopped', 'the member is stopping'));
  }

  private settle(id: number): InFlight | undefined {
    const waiting = this.inFlight.get(id);
    if (!waiting) return undefined;
    this.inFlight.delete(id);
    this.timers.cancel(waiting.timer);
    return waiting;
  }
}
