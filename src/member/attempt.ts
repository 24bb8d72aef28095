// One try to connect to a peer, from its first punch until it is established or abandoned: the
// try's typed state, its one timer, its backoff, its hellos and its pending handshakes. Only the
// AttemptManager creates, moves and retires attempts; a re-punch is a new attempt.
import type { ClockTimer } from '../clock';
import type { Logger } from '../log';
import type { Endpoint } from '../net/transport';
import type { Path } from './peer';
import { StateMachine, type Transitions } from './state-machine';

/**
 * `punching`: the server sends hellos, the client waits for a first datagram. `handshaking`:
 * handshakes are under way on the peer's paths. A failed round goes back to punching; an attempt
 * ends `established` (a path of it was installed) or `abandoned` (retired unfinished).
 */
export type AttemptState = 'punching' | 'handshaking' | 'established' | 'abandoned';

const EDGES: Transitions<AttemptState> = {
  punching: ['handshaking', 'abandoned'],
  handshaking: ['punching', 'established', 'abandoned'],
  established: [],
  abandoned: [],
};

export class Attempt {
  private readonly machine: StateMachine<AttemptState>;
  /** The attempt's one pending timer: the client's hello wait, the next round, or a look again. */
  timer: ClockTimer | null = null;
  /** Failed rounds in this attempt: drives the retry backoff. */
  failures: number;
  /** Server rounds whose `hello` drew no ClientHello from the peer; reset when one comes. */
  unansweredHellos = 0;
  /** When a `hello` from the peer last cut our retry wait short (see ReflexiveCandidates). */
  lastTriggeredAt = -Infinity;
  /** The endpoints a client waits on for the peer's first datagram; null when not waiting. */
  waitingAt: Endpoint[] | null = null;
  /** Handshakes in flight for this attempt; server ones may outlive its success (see AttemptManager.promote). */
  readonly paths = new Set<Path>();

  constructor(log: Logger, label: string, initial: 'punching' | 'handshaking', failures: number) {
    this.machine = new StateMachine(EDGES, initial, log, `attempt ${label}`);
    this.failures = failures;
  }

  get state(): AttemptState {
    return this.machine.state;
  }

  get finished(): boolean {
    return this.state === 'established' || this.state === 'abandoned';
  }

  transition(asked: AttemptState): void {
    this.machine.transition(asked);
  }
}
