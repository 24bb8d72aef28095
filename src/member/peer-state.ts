// The typed life cycle of one peer, punching -> handshaking -> established -> closed, moved only
// by transition(), which refuses impossible moves and logs every request at debug.
import type { Logger } from '../log';

export type PeerState = 'punching' | 'handshaking' | 'established' | 'closed';

/** A retry goes back from handshaking to punching; closed is terminal (a re-punch is a new peer). */
const ALLOWED: Record<PeerState, readonly PeerState[]> = {
  punching: ['handshaking', 'closed'],
  handshaking: ['established', 'punching', 'closed'],
  established: ['closed'],
  closed: [],
};

export class PeerStateMachine {
  private current: PeerState = 'punching';

  constructor(private readonly log: Logger, private readonly label: string) {}

  get state(): PeerState {
    return this.current;
  }

  /** Moves to `asked` when allowed from the current state; returns the state it ends in. */
  transition(asked: PeerState): PeerState {
    const was = this.current;
    if (ALLOWED[was].includes(asked)) this.current = asked;
    this.log.debug(`peer ${this.label}: was ${was}, asked ${asked}, now ${this.current}`);
    return this.current;
  }
}
