// `meshboi member` (alias `client`, the original's name): runs a mesh VPN member until SIGINT/SIGTERM.
import { Command, InvalidArgumentError, type ParseOptionsResult } from 'commander';
import { acceptConfigFile } from './config-file';
import { DEFAULT_ROLODEX_PORT } from './member-config';
import type { MemberCliOptions } from './member-run';
import { metricsAddressOption } from './metrics-address';
import { MAX_PLAINTEXT_LENGTH } from '../src/dtls/index';
import { isNameLabel, type LinkMode } from '../src/member/peer-info';

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

function linkMode(text: string): LinkMode {
  if (text !== 'tun' && text !== 'tap') throw new InvalidArgumentError('give tun or tap.');
  return text;
}

function memberName(text: string): string {
  if (!isNameLabel(text)) throw new InvalidArgumentError('give 1 to 63 of a-z, 0-9 and "-", not starting or ending with "-".');
  return text;
}

export function addMemberCommand(program: Command): void {
  const command = new GoStyleFlagsCommand('member')
    .alias('client')
    .description('join a meshboi network: TUN device, one UDP socket, DTLS sessions to every other member')
    .requiredOption('--network <name>', 'the network name shared by its members', networkName)
    .requiredOption(
      '--vpn-ip <address/prefix>',
      'our address inside the VPN, with prefix, e.g. 192.168.50.1/24 or fd00::1/64; give it twice, one IPv4 and one IPv6, for a dual-stack member',
      collect,
    )
    .option('--name <name>', 'our name in DNS, NAME.NETWORK.meshboi (a-z, 0-9, "-"); default: the host name', memberName)
    .option('--advertise-route <cidr>', 'a LAN prefix we forward for, told to our members; repeat for several', collect)
    .option('--accept-routes', 'route the prefixes our members advertise through the VPN')
    .option('--mode <mode>', 'tun: IP packets (works with original members); tap: Ethernet frames, a network of our members only', linkMode, 'tun')
    .option('--psk-file <file>', 'file holding the pre-shared key (mode 600; one trailing newline ignored)')
    .option('--psk <psk>', 'the pre-shared key itself (visible in the process list: prefer --psk-file or MESHBOI_PSK)')
    .option('--rolodex-address <host[:port]>', 'a rolodex to register with (required); repeat for several', collect)
    .option('--rolodex-port <port>', 'port of rolodexes given without one', integerIn(1, 65535), DEFAULT_ROLODEX_PORT)
    .option(
      '--blind',
      'a network of our members only: the rolodex sees a tag derived from the PSK and name, never the name, our LAN endpoints or VPN IP, and cannot invent members; every member needs it',
    )
    .option('--tun-name <name>', 'name of the TUN device to create', 'tun')
    .option(
      '--tun-mtu <bytes>',
      'MTU of the TUN device, at most 16384 (one DTLS record); default 1200, the original\'s, or 1280, the IPv6 minimum, with an IPv6 --vpn-ip or --mode tap',
      integerIn(68, MAX_PLAINTEXT_LENGTH),
    )
    .option('--listen-port <port>', 'UDP port for rolodex and peer traffic; 0 picks a free one', integerIn(0, 65535), 0)
    .option('--control-socket <path>', 'Unix socket for `meshboi status` (default /run/meshboi/<tun-name>.sock)')
    .option('--relay', 'forward for members of this network that cannot reach each other (their sessions stay end-to-end encrypted)')
    .option('--no-relays', 'never reach a peer through a member that relays')
    .option('--no-mtu-probe', 'keep the TUN MTU toward every peer, instead of probing each direct path to one of our members for a larger one')
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
  acceptConfigFile(command, { repeatable: ['rolodex-address', 'vpn-ip', 'advertise-route'] });
  command.copyInheritedSettings(program);
  program.addCommand(command);
}
