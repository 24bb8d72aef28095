// `meshboi member` (alias `client`, the original's name): runs a mesh VPN member until SIGINT/SIGTERM.
import { Command, InvalidArgumentError, type ParseOptionsResult } from 'commander';
import { acceptConfigFile } from './config-file';
import { DEFAULT_ROLODEX_PORT } from './member-config';
import type { MemberCliOptions } from './member-run';
import { metricsAddressOption } from './metrics-address';
import { MAX_PLAINTEXT_LENGTH } from '../src/dtls/index';

/**
 * Accepts the original's Go-style single-dash flags (`-network x`, `-vpn-ip=...`) so scripts
 * written for it keep working; only names of this command's long options are rewritten.
 */
class GoStyleFlagsCommand extends Command {
  override parseOptions(args: string[]): ParseOptionsResult {
    return super.parseOptions(translateGoStyleFlags(args, this.options.map((option) => option.long ?? '')));
  }
}

export function translateGoStyleFlags(args: readonly string[], longFlags: readonly string[]): string[] {
  const end = args.indexOf('--');
  return args.map((arg, index) => {
    if (end !== -1 && index >= end) return arg;
    const match = /^-([a-z][a-z0-9-]+)(=.*)?$/.exec(arg);
    return match && longFlags.includes(`--${match[1]}`) ? `-${arg}` : arg;
  });
}

function integerIn(min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) {
      throw new InvalidArgumentError(`give a whole number from ${min} to ${max}.`);
    }
    return Number(text);
  };
}

function networkName(text: string): string {
  if (text.length === 0 || Buffer.byteLength(text) > 255) throw new InvalidArgumentError('give a name of 1 to 255 bytes.');
  return text;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addMemberCommand(program: Command): void {
  const command = new GoStyleFlagsCommand('member')
    .alias('client')
    .description('join a meshboi network: TUN device, one UDP socket, DTLS sessions to every other member')
    .requiredOption('--network <name>', 'the network name shared by its members', networkName)
    .requiredOption('--vpn-ip <address/prefix>', 'our address inside the VPN, with prefix, e.g. 192.168.50.1/24 or fd00::1/64')
    .option('--psk-file <file>', 'file holding the pre-shared key (mode 600; one trailing newline ignored)')
    .option('--psk <psk>', 'the pre-shared key itself (visible in the process list: prefer --psk-file or MESHBOI_PSK)')
    .option('--rolodex-address <host[:port]>', 'a rolodex to register with (required); repeat for several', collect)
    .option('--rolodex-port <port>', 'port of rolodexes given without one', integerIn(1, 65535), DEFAULT_ROLODEX_PORT)
    .option('--tun-name <name>', 'name of the TUN device to create', 'tun')
    .option(
      '--tun-mtu <bytes>',
      'MTU of the TUN device, at most 16384 (one DTLS record); default 1200, the original\'s, or 1280, the IPv6 minimum, with an IPv6 --vpn-ip',
      integerIn(68, MAX_PLAINTEXT_LENGTH),
    )
    .option('--listen-port <port>', 'UDP port for rolodex and peer traffic; 0 picks a free one', integerIn(0, 65535), 0)
    .option('--control-socket <path>', 'Unix socket for `meshboi status` (default /run/meshboi/<tun-name>.sock)')
    .option('--user <user>', 'drop root to this user once the TUN device and sockets are open')
    .option('--group <group>', 'with --user: the group to run as (default: the user\'s primary group)')
    .addOption(metricsAddressOption())
    .addHelpText('after', '\nThe PSK comes from exactly one of --psk-file, the MESHBOI_PSK environment variable or --psk.')
    .action(async (options: MemberCliOptions) => {
      // Loaded on use: the rolodex, status and genpsk commands need none of the member's code.
      const { runMember } = await import('./member-run');
      await runMember(options);
      // Stop has closed everything of ours; exiting now also ends anything a dependency left behind.
      process.exit(0);
    });
  acceptConfigFile(command, { repeatable: ['rolodex-address'] });
  command.copyInheritedSettings(program);
  program.addCommand(command);
}
