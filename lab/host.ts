// One host of a lab: a network namespace with an address, in which tests run commands (`exec`)
// and start long-lived processes (`spawn`) that the lab kills by pid on teardown.
import path from 'node:path';
import { LabProcess } from './process';
import type { PlannedHost } from './topology';
import { mustRun, runCommand, type CommandResult, type RunOptions } from './tools';

export interface SpawnOptions {
  /** Name of the log file in the run folder; defaults to `<host>-<command>-<n>.log`. */
  logName?: string;
  env?: NodeJS.ProcessEnv;
}

export class LabHost {
  readonly processes: LabProcess[] = [];
  private spawnCount = 0;

  constructor(
    readonly plan: PlannedHost,
    readonly namespace: string,
    private readonly ipCommand: string,
    /** The run's folder for logs, PSK files and control sockets; removed on teardown. */
    readonly runFolder: string,
  ) {}

  get name(): string {
    return this.plan.name;
  }

  /** The host's address on its uplink: public for public hosts and routers, a LAN address behind a NAT. */
  get address(): string {
    return this.plan.address;
  }

  /** The host's IPv6 address on the internet, when the topology has IPv6. */
  get address6(): string | null {
    return this.plan.address6;
  }

  /** Runs a command inside the namespace to completion; a non-zero exit is a result, not an error. */
  exec(command: string, args: string[] = [], options: RunOptions = {}): Promise<CommandResult> {
    return runCommand(this.ipCommand, ['netns', 'exec', this.namespace, command, ...args], options);
  }

  /** Like `exec`, but rejects with the command's stderr when it fails. */
  mustExec(command: string, args: string[] = [], options: RunOptions = {}): Promise<string> {
    return mustRun(this.ipCommand, ['netns', 'exec', this.namespace, command, ...args], options);
  }

  /**
   * Starts a long-lived process inside the namespace, its output going to a log file in the run
   * folder. `ip netns exec` execs the command in place, so the pid is the command's own.
   */
  spawn(command: string, args: string[] = [], options: SpawnOptions = {}): LabProcess {
    this.spawnCount += 1;
    const logName = options.logName ?? `${this.name}-${path.basename(command)}-${this.spawnCount}.log`;
    const child = new LabProcess(
      `${path.basename(command)} on ${this.name}`,
      path.join(this.runFolder, logName),
      this.ipCommand,
      ['netns', 'exec', this.namespace, command, ...args],
      options.env ?? process.env,
    );
    this.processes.push(child);
    return child;
  }
}
