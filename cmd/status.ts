// `meshboi status`: asks a running member for its peers and rolodexes over its control socket.
import type { Command } from 'commander';
import { requestStatus } from '../src/control/client';
import { defaultControlSocketPath } from '../src/control/protocol';
import { renderStatus } from '../src/control/status-table';

interface StatusOptions {
  json?: boolean;
  controlSocket?: string;
  tunName: string;
}

export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description('show the peers and rolodexes of a running member')
    .option('--json', 'print the raw status as JSON')
    .option('--tun-name <name>', 'the member to ask, by its TUN device name', 'tun')
    .option('--control-socket <path>', 'the member\'s control socket (default /run/meshboi/<tun-name>.sock)')
    .action(async (options: StatusOptions) => {
      const status = await requestStatus(options.controlSocket ?? defaultControlSocketPath(options.tunName));
      process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
    });
}
