// The process side of routes through the TUN device: keeps the kernel's table in step with the
// prefixes accepted from peers (--accept-routes) and with the MTUs probed toward our members
// (path-mtu.ts), and checks that an advertising member forwards.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Logger } from '../src/log';
import type { IpPrefix } from '../src/member/ip-prefix';
import type { DeviceRoutes, PeerMtuRoutes } from '../src/member/main';
import type { VpnAddress } from '../src/member/vpn-address';

/** Runs iproute2 commands one after another, so a quick add and remove cannot cross; failures are logged, as a peer's route is no reason to stop. */
class RouteCommands {
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly log: Logger) {}

  /** `done`: what to log once the command succeeded, or null for nothing. */
  run(args: string[], done: string | null, fields: Record<string, unknown>): void {
    this.queue = this.queue.then(
      () =>
        new Promise((resolve) => {
          execFile('ip', args, { timeout: 10_000 }, (error, _stdout, stderr) => {
            if (error) this.log.warn('cannot change a route through the VPN', { command: `ip ${args.join(' ')}`, error: stderr.trim() || error.message });
            else if (done !== null) this.log.info(done, fields);
            resolve();
          });
        }),
    );
  }
}

/** Routes through `device` toward the prefixes accepted from peers. */
export class KernelRoutes implements DeviceRoutes {
  private installed = new Map<string, IpPrefix>();
  private readonly commands: RouteCommands;

  constructor(private readonly device: string, log: Logger) {
    this.commands = new RouteCommands(log);
  }

  set(prefixes: readonly IpPrefix[]): void {
    const wanted = new Map(prefixes.map((prefix) => [prefix.text, prefix]));
    const added = [...wanted.values()].filter((prefix) => !this.installed.has(prefix.text));
    const removed = [...this.installed.values()].filter((prefix) => !wanted.has(prefix.text));
    this.installed = wanted;
    for (const prefix of removed) this.change('del', prefix);
    for (const prefix of added) this.change('replace', prefix);
  }

  private change(verb: 'del' | 'replace', prefix: IpPrefix): void {
    const done = verb === 'del' ? 'route removed' : 'route installed';
    this.commands.run([`-${prefix.family}`, 'route', verb, prefix.text, 'dev', this.device], done, { prefix: prefix.text, device: this.device });
  }
}

/**
 * One host route per peer address whose probed MTU is above the device's: the kernel sizes packets
 * (and TCP its segments) to a destination by its route's MTU, which may exceed the device's.
 */
export class KernelPeerMtus implements PeerMtuRoutes {
  private readonly commands: RouteCommands;

  constructor(private readonly device: string, log: Logger) {
    this.commands = new RouteCommands(log);
  }

  set(address: VpnAddress, mtu: number | null): void {
    const host = `${address.text}/${address.family === 4 ? 32 : 128}`;
    const args = [`-${address.family}`, 'route', mtu === null ? 'del' : 'replace', host, 'dev', this.device, ...(mtu === null ? [] : ['mtu', String(mtu)])];
    // The member logs each MTU it finds; only a failure is news here.
    this.commands.run(args, null, {});
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
