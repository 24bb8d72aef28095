// Handshake outcomes as counters (completed, failed by cause; per peer and member-wide) for status
// and metrics, and the one warning an operator needs: a handshake that failed because the PSKs
// differ, logged once per peer per quarter hour however often the attempts retry.
import type { Clock } from '../clock';
import { AlertDescription, type CloseReason } from '../dtls/index';
import { RateLimitedLog, type Logger } from '../log';
import type { Path, Peer } from './peer';

/** Why a handshake ended before it completed. */
export type HandshakeFailureCause = 'psk_mismatch' | 'timeout' | 'refused' | 'closed';

export interface HandshakeCounts {
  completed: number;
  failed: Record<HandshakeFailureCause, number>;
}

/** A wrong PSK is a configuration error that retries cannot fix: once per peer in this long is enough. */
export const PSK_WARNING_INTERVAL_MS = 15 * 60_000;

/** Our Finished, flight 5: a server with another PSK (pion does) drops it without a word. */
const CLIENT_FINISHED_FLIGHT = 5;

export function emptyHandshakeCounts(): HandshakeCounts {
  return { completed: 0, failed: { psk_mismatch: 0, timeout: 0, refused: 0, closed: 0 } };
}

/**
 * The cause of a handshake's end. A bad_record_mac or decrypt_error alert before the session is
 * established is what either side of a PSK mismatch sends or receives (see DtlsSession); a
 * server that never answers our Finished most likely could not decrypt it.
 */
export function handshakeFailureCause(reason: CloseReason): HandshakeFailureCause {
  switch (reason.kind) {
    case 'alert':
      return reason.description === AlertDescription.bad_record_mac || reason.description === AlertDescription.decrypt_error ? 'psk_mismatch' : 'refused';
    case 'handshake_timeout':
      return reason.flight === CLIENT_FINISHED_FLIGHT ? 'psk_mismatch' : 'timeout';
    case 'close_notify':
    case 'local':
      return 'closed';
  }
}

export class HandshakeWatch {
  readonly total = emptyHandshakeCounts();
  private readonly byPeer = new WeakMap<Peer, HandshakeCounts>();
  private readonly warnings: RateLimitedLog;

  constructor(
    clock: Clock,
    log: Logger,
  ) {
    this.warnings = new RateLimitedLog(log, PSK_WARNING_INTERVAL_MS, 1024, () => clock.now());
  }

  /** The counts of one peer (zero for a peer that never handshook). */
  forPeer(peer: Peer): HandshakeCounts {
    return this.byPeer.get(peer) ?? emptyHandshakeCounts();
  }

  completed(path: Path): void {
    this.total.completed++;
    if (path.peer) this.countsOf(path.peer).completed++;
  }

  /** A session of `path` ended; only one that never completed its handshake counts as a failure. */
  closed(path: Path, reason: CloseReason): void {
    if (path.info !== null) return;
    const cause = handshakeFailureCause(reason);
    this.total.failed[cause]++;
    if (path.peer) this.countsOf(path.peer).failed[cause]++;
    if (cause !== 'psk_mismatch') return;
    const who = path.peer?.vpn?.text ?? path.peer?.outsideKey ?? path.remoteKey;
    this.warnings.warn(`psk:${path.peer?.outsideKey ?? path.remoteKey}`, 'handshake failed: the PSKs differ; give every member of the network the same PSK', {
      peer: who,
      endpoint: path.remoteKey,
      detail: 'message' in reason ? reason.message : undefined,
    });
  }

  private countsOf(peer: Peer): HandshakeCounts {
    let counts = this.byPeer.get(peer);
    if (!counts) {
      counts = emptyHandshakeCounts();
      this.byPeer.set(peer, counts);
    }
    return counts;
  }
}
