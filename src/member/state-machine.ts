// A typed state machine moved only by transition(), which throws on a move its table does not
// allow (a bug in the caller, never a peer's doing) and logs every move at debug.
import type { Logger } from '../log';

export type Transitions<S extends string> = Readonly<Record<S, readonly S[]>>;

export class IllegalTransition extends Error {
  override name = 'IllegalTransition';
}

export class StateMachine<S extends string> {
  private current: S;

  constructor(
    private readonly edges: Transitions<S>,
    initial: S,
    private readonly log: Logger,
    private readonly label: string,
  ) {
    this.current = initial;
  }

  get state(): S {
    return this.current;
  }

  /** Moves to `asked`; throws, leaving the state as it was, when the table has no such edge. */
  transition(asked: S): void {
    const was = this.current;
    if (!this.edges[was].includes(asked)) throw new IllegalTransition(`${this.label}: no move from ${was} to ${asked}`);
    this.current = asked;
    this.log.debug(`${this.label}: was ${was}, now ${asked}`);
  }
}
