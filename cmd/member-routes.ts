// The process side of subnet routes: keeps the kernel's routes through the TUN device in step with
// the prefixes accepted from peers (--accept-routes), and checks that an advertising member forwards.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Logger } from '../src/log';
import type { IpPrefix } from '../src/member/ip-prefix';
import type { DeviceRoutes } from '../src/member/main';

/** Routes through `device`, changed with iproute2; failures are logged, as a peer's route is no reason to stop. */
export class KernelRoutes implements DeviceRoutes {
  private installed = new Map<string, IpPrefix>();
  /** Changes run one after another, so a quick add and remove cannot cross. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly device: string, private readonly log: Logger) {}

  set(prefixes: readonly IpPrefix[]): void {
    const wanted = new Map(prefixes.map((prefix) => [prefix.text, prefix]));
    const added = [...wanted.values()].filter((prefix) => !this.installed.has(prefix.text));
    const removed = [...this.installed.values()].filter((prefix) => !wanted.has(prefix.text));
    this.installed = wanted;
    for (const prefix of removed) this.run(['route', 'del', prefix.text, 'dev', this.device], prefix);
    for (const prefix of added) this.run(['route', 'replace', prefix.text, 'dev', this.device], prefix);
  }

  private run(args: string[], prefix: IpPrefix): void {
    const full = [`-${prefix.family}`, ...args];
    this.queue = this.queue.then(
      () =>
        new Promise((resolve) => {
          execFile('ip', full, { timeout: 10_000 }, (error, _stdout, stderr) => {
            if (error) this.log.warn('cannot change a route through the VPN', { command: `ip ${full.join(' ')}`, error: stderr.trim() || error.message });
            else this.log.info(args[1] === 'del' ? 'route removed' : 'route installed', { prefix: prefix.text, device: this.device });
            resolve();
          });
        }),
    );
  }
}

/** Warns when we advertise routes of a family the kernel does not forward: peers' packets would stop here. */
export function checkForwarding(routes: readonly string[], log: Logger, read: (path: string) => string = (path) => readFileSync(path, 'utf8')): void {
  const families = new Set(routes.map((route) => (route.includes(':') ? 6 : 4)));
  for (const family of families) {
    const path = family === 4 ? '/proc/sys/net/ipv4/ip_forward' : '/proc/sys/net/ipv6/conf/all/forwarding';
    let value: string;
    try {
      value = read(path).trim();
    } catch {
      continue;
    }
    if (value !== '1') {
      log.warn(`IPv${family} forwarding is off, so packets for the routes we advertise stop here`, {
        fix: `sysctl -w ${family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding'}=1`,
      });
    }
  }
}
