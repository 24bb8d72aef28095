// A peer we hold a session with punches toward us again: it restarted on the same address and lost
// our session. As its client we handshake anew beside the old session, once we are sure.
import type { Clock } from '../clock';
import type { AttemptManager } from './attempt-manager';
import type { Path } from './peer';
import type { PeerStore } from './peer-store';

export interface ReplacementTimings {
  /**
   * The keepalive interval: a `hello` from an established peer starts a new handshake only once
   * the peer has been quiet for two of them (a live one of ours never is), so a forged `hello`
   * cannot keep us re-handshaking.
   */
  keepaliveMs: number;
}

export class SessionReplacement {
  constructor(
    private readonly store: PeerStore,
    private readonly attempts: AttemptManager,
    private readonly timings: ReplacementTimings,
    private readonly clock: Clock,
  ) {}

  /**
   * A `hello` on the established path: as server the peer is punching towards us again, so it
   * lost our session (a restart on the same address), and it has stopped answering our
   * keepalives. As its client we start a handshake beside the old session, which resolveRace
   * replaces once the new one completes; the old one is untouched if the hello was forged.
   * Until the peer has missed two keepalives we only look again at that moment, once (the
   * attempt's one timer), rather than at its next `hello`, which its retry backoff may hold back
   * for half a minute.
   */
  helloOn(established: Path, lookAgain = true): void {
    const peer = established.peer;
    if (!peer || established.role !== 'client' || !this.attempts.running) return;
    const attempt = peer.attempt;
    if (attempt && attempt.paths.size > 0) return;
    const now = this.clock.now();
    const quietEnoughAt = peer.lastAuthenticatedAt + 2 * this.timings.keepaliveMs;
    if (now < quietEnoughAt) {
      if (!lookAgain) return this.attempts.retire(peer);
      if (!attempt) this.attempts.waitThen(peer, quietEnoughAt - now, () => this.lookAgain(established));
      return;
    }
    if (attempt) this.attempts.retire(peer);
    this.attempts.openPath(established.remote, 'client', peer).session.start();
  }

  private lookAgain(established: Path): void {
    const peer = established.peer;
    if (!peer) return;
    if (this.store.established.get(established.remote.address, established.remote.port) === established) this.helloOn(established, false);
    else this.attempts.retire(peer);
  }
}
