// The member's names: NAME.NETWORK.meshboi for itself and for each of our members that told its
// name (original members have none: they appear by VPN IP only), served by DNS on the sockets the
// process bound to our VPN addresses.
import type { Logger } from '../log';
import type { DatagramTransport, Endpoint } from '../net/transport';
import { answerQuery, type NameDirectory } from '../dns/responder';
import { isNameLabel } from './peer-info';
import type { PeerStore } from './peer-store';
import { vpnAddressBytes, vpnAddressFromBytes, type VpnAddress } from './vpn-address';

export const NAMES_DOMAIN = 'meshboi';
/** Short, so a member that left or moved stops resolving soon. */
export const NAME_TTL_SECONDS = 10;

/** The zone labels for a network, or a message saying why its name cannot be a DNS name. */
export function zoneOf(network: string): string[] | string {
  const labels = network.toLowerCase().split('.');
  if (!labels.every(isNameLabel)) {
    return `network "${network}" is not usable in DNS names (each dot-separated part must be 1 to 63 of a-z, 0-9 and "-"), so names are off`;
  }
  return [...labels, NAMES_DOMAIN];
}

/**
 * A default member name from a host name: its first label, lower-cased, with anything a DNS
 * label cannot hold turned into "-"; null when nothing usable remains.
 */
export function nameFromHostname(hostname: string): string | null {
  const name = hostname.split('.')[0].toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return isNameLabel(name) ? name : null;
}

export class MemberNames implements NameDirectory {
  /** Queries answered, and messages that got no answer (not a query at all). */
  readonly counters = { queries: 0, ignored: 0 };

  constructor(
    readonly zone: readonly string[],
    private readonly ownName: string | null,
    private readonly ownAddresses: readonly VpnAddress[],
    private readonly store: PeerStore,
  ) {}

  /** Our full name, "alice.home.meshboi"; null without one. */
  get fullName(): string | null {
    return this.ownName === null ? null : [this.ownName, ...this.zone].join('.');
  }

  addressesOf(host: string): readonly Buffer[] | null {
    if (host === this.ownName) return this.ownAddresses.map(vpnAddressBytes);
    const peer = this.store.byName.get(host);
    if (!peer?.vpn) return null;
    return [peer.vpn, ...peer.extraVpn].map(vpnAddressBytes);
  }

  hostOf(bytes: Buffer): string | null {
    const address = vpnAddressFromBytes(bytes);
    if (!address) return null;
    if (this.ownAddresses.some((own) => own.text === address.text)) return this.ownName;
    return this.store.byVpnIp.get(address.text)?.name ?? null;
  }

  /** Answers DNS queries arriving on `transport` (a UDP socket on one of our VPN addresses, port 53). */
  serve(transport: DatagramTransport, log: Logger): void {
    transport.onMessage((data: Buffer, from: Endpoint) => {
      const reply = answerQuery(data, this, NAME_TTL_SECONDS);
      if (reply === null) {
        this.counters.ignored++;
        return;
      }
      this.counters.queries++;
      transport.send(reply, from.port, from.address);
    });
    log.debug('answering DNS', { zone: this.zone.join('.'), on: transport.localEndpoint() });
  }
}
