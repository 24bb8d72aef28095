// How a long-running meshboi command stops: the first SIGINT/SIGTERM asks for an orderly stop,
// a second one while stopping gives up waiting and exits at once.
import type { Logger } from '../src/log';

export interface StopSignal {
  /** Resolves with the first signal. */
  readonly promise: Promise<NodeJS.Signals>;
  /** The first signal, once one came: a command still starting checks it before going on. */
  readonly received: NodeJS.Signals | null;
  /** Stops listening; after a signal the handler stays, so a second one still exits at once. */
  dispose(): void;
}

/** Listens from now on, so a signal that comes while the command starts up is not lost. */
export function waitForStopSignal(log: Logger): StopSignal {
  let received: NodeJS.Signals | null = null;
  let resolveSignal: (signal: NodeJS.Signals) => void = () => {};
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    resolveSignal = resolve;
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) {
      log.warn(`${signal} again while stopping; exiting now`);
      process.exit(1);
    }
    received = signal;
    resolveSignal(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    promise,
    get received() {
      return received;
    },
    dispose() {
      if (received) return;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
