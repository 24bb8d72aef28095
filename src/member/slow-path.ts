// The slow path of received datagrams: everything that is not application data on an established
// session (see outside.ts). Handshake records go to their pending path, a ClientHello through the
// stateless cookie gate to resolveRace, a `hello` to the attempt it concerns
// or the waiting newcomer it comes from; the rest is dropped.
import type { Clock } from '../clock';
import { CookieGate, looksLikeClientHello } from '../dtls/index';
import type { Logger } from '../log';
import type { Endpoint } from '../net/transport';
import type { DatagramTransport } from '../net/transport';
import { formatEndpoint } from '../net/transport';
import type { AttemptManager } from './attempt-manager';
import type { Path, Peer } from './peer';
import type { Listings } from './listings';
import type { PeerStore } from './peer-store';
import type { ReflexiveCandidates } from './reflexive-candidates';
import type { SessionReplacement } from './session-replacement';
import { isHello } from './unsealed-datagrams';

const HANDSHAKE = 22;
const CHANGE_CIPHER_SPEC = 20;

/** Member-wide drops on the slow path. */
export interface SlowPathDrops {
  /** A datagram from an address with no session that is not a ClientHello (the spec drops these). */
  unknown_source: number;
  /** A ClientHello the cookie gate refused (malformed, or a bad cookie). */
  bad_client_hello: number;
  /** A valid ClientHello set aside (a handshake with that address under way, or too many pending). */
  handshake_ignored: number;
}

export class SlowPath {
  readonly drops: SlowPathDrops = { unknown_source: 0, bad_client_hello: 0, handshake_ignored: 0 };
  private readonly gate = new CookieGate();

  constructor(
    private readonly store: PeerStore,
    private readonly transport: DatagramTransport,
    private readonly attempts: AttemptManager,
    private readonly candidates: ReflexiveCandidates,
    private readonly listings: Pick<Listings, 'heardFrom'>,
    private readonly replacement: SessionReplacement,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** A datagram the fast path did not take; `established` is the session at its source, if any. */
  receive(data: Buffer, from: Endpoint, established: Path | undefined): void {
    if (established) {
      const replacement = this.store.pending.get(from.address, from.port);
      if (replacement && (data[0] === HANDSHAKE || data[0] === CHANGE_CIPHER_SPEC)) return this.feed(replacement, data);
      if (looksLikeClientHello(data)) return this.clientHello(data, from);
      if (isHello(data)) return this.replacement.helloOn(established);
      established.session.handleDatagram(data);
      return;
    }
    const pending = this.store.pending.get(from.address, from.port);
    if (pending) {
      if (pending.role === 'client' && looksLikeClientHello(data)) return this.clientHello(data, from);
      return this.feed(pending, data);
    }
    if (looksLikeClientHello(data)) return this.clientHello(data, from);
    const waiting = this.attempts.waiterAt(from.address, from.port);
    if (waiting) return this.attempts.beginHandshakes(waiting);
    if (isHello(data) && (this.candidates.strayHello(from) || this.listings.heardFrom(from))) return;
    this.drops.unknown_source++;
  }

  private feed(path: Path, data: Buffer): void {
    path.fed++;
    path.session.handleDatagram(data);
  }

  private clientHello(data: Buffer, from: Endpoint): void {
    const verdict = this.gate.check(data, formatEndpoint(from));
    if (verdict.action === 'reply') {
      this.transport.send(verdict.datagram, from.port, from.address);
      return;
    }
    if (verdict.action === 'drop') {
      this.drops.bad_client_hello++;
      return;
    }
    const outcome = this.store.resolveRace({ kind: 'client_hello', remote: from }, this.clock.now());
    switch (outcome.action) {
      case 'ignore':
        this.drops.handshake_ignored++;
        return;
      case 'yield':
        this.log.debug('both sides started as client; answering theirs', { remote: outcome.path.remoteKey });
        this.attempts.dropPath(outcome.path);
        return this.accept(from, outcome.path.peer, data);
      case 'accept':
      case 'accept_replacement':
        return this.accept(from, outcome.peer, data);
    }
  }

  /** A server handshake with `remote`, for `peer` when we know who it is (the handshake will tell). */
  private accept(remote: Endpoint, peer: Peer | null, clientHello: Buffer): void {
    if (!this.attempts.running) return;
    const path = this.attempts.openPath(remote, 'server', peer);
    if (peer) {
      this.candidates.clientHelloFrom(peer, remote);
      this.attempts.answered(peer);
    }
    this.feed(path, clientHello);
  }
}
