// The peer-info control record (type 0x01): what one of our members tells another about itself
// through their session, beyond its PSK identity: extra VPN addresses, name, routes, mode.
//
//    0        1        2 ...
//   +--------+--------+--------------------------------------------+
//   |  0x01  | flags  | fields: tag (1) length (1) value (length)  |
//   +--------+--------+--------------------------------------------+
//   flags bit 0 "heard": the sender holds the receiver's peer-info (the other bits: 0, ignored)
//   tag 1 address  4 or 16 bytes, a VPN address of the sender besides its identity (repeatable)
//   tag 2 name     1 to 63 bytes: a DNS label of a-z, 0-9 and "-" (at most once)
//   tag 3 route    prefix length (1) + network address (4 or 16): a prefix the sender forwards (repeatable)
//   tag 4 mode     1 byte: 0 TUN (IP packets), 1 TAP (Ethernet frames) (at most once; absent: TUN)
// Unknown tags are skipped, so a later member may add fields an older one ignores.
import { CONTROL_TYPE } from './control-record';
import { prefixFromBytes, type IpPrefix } from './ip-prefix';
import { vpnAddressBytes, vpnAddressFromBytes, type VpnAddress } from './vpn-address';

export type LinkMode = 'tun' | 'tap';

export interface PeerInfo {
  heard: boolean;
  /** The sender's VPN addresses besides its identity (the IPv6 one of a dual-stack member). */
  addresses: readonly VpnAddress[];
  name: string | null;
  /** Prefixes the sender forwards for (--advertise-route). */
  routes: readonly IpPrefix[];
  mode: LinkMode;
}

const TAG = { address: 1, name: 2, route: 3, mode: 4 } as const;
const HEARD = 0x01;
export const MAX_INFO_ADDRESSES = 4;
export const MAX_INFO_ROUTES = 32;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export class PeerInfoError extends Error {}

/** Whether `name` can be a member's name: one DNS label, lower case. */
export function isNameLabel(name: string): boolean {
  return LABEL.test(name);
}

export function encodePeerInfo(info: PeerInfo): Buffer {
  if (info.addresses.length > MAX_INFO_ADDRESSES || info.routes.length > MAX_INFO_ROUTES) throw new PeerInfoError('too many addresses or routes for one peer-info record');
  const fields: Buffer[] = [Buffer.from([CONTROL_TYPE.peerInfo, info.heard ? HEARD : 0])];
  const field = (tag: number, value: Buffer): void => {
    fields.push(Buffer.from([tag, value.length]), value);
  };
  for (const address of info.addresses) field(TAG.address, vpnAddressBytes(address));
  if (info.name !== null) {
    if (!isNameLabel(info.name)) throw new PeerInfoError(`name "${info.name}" is not a DNS label`);
    field(TAG.name, Buffer.from(info.name, 'ascii'));
  }
  for (const route of info.routes) field(TAG.route, Buffer.concat([Buffer.from([route.length]), route.bytes]));
  if (info.mode === 'tap') field(TAG.mode, Buffer.from([1]));
  return Buffer.concat(fields);
}

/** Decodes a peer-info record (type byte included); throws PeerInfoError saying what is wrong. */
export function decodePeerInfo(record: Buffer): PeerInfo {
  if (record.length < 2 || record[0] !== CONTROL_TYPE.peerInfo) throw new PeerInfoError('not a peer-info record');
  const addresses: VpnAddress[] = [];
  const routes: IpPrefix[] = [];
  const info = { heard: (record[1] & HEARD) !== 0, addresses, name: null as string | null, routes, mode: 'tun' as LinkMode };
  let seenName = false;
  let seenMode = false;
  for (let at = 2; at < record.length; ) {
    if (at + 2 > record.length) throw new PeerInfoError(`field header cut short at byte ${at}`);
    const tag = record[at];
    const length = record[at + 1];
    const value = record.subarray(at + 2, at + 2 + length);
    if (value.length !== length) throw new PeerInfoError(`field ${tag} claims ${length} bytes, ${value.length} remain`);
    at += 2 + length;
    switch (tag) {
      case TAG.address: {
        const address = vpnAddressFromBytes(value);
        if (!address) throw new PeerInfoError(`an address field of ${length} bytes (4 or 16 expected)`);
        if (addresses.length === MAX_INFO_ADDRESSES) throw new PeerInfoError(`more than ${MAX_INFO_ADDRESSES} addresses`);
        addresses.push(address);
        break;
      }
      case TAG.name: {
        const name = value.toString('latin1');
        if (seenName || !isNameLabel(name)) throw new PeerInfoError(seenName ? 'two name fields' : 'the name is not a DNS label');
        seenName = true;
        info.name = name;
        break;
      }
      case TAG.route: {
        const route = length > 0 ? prefixFromBytes(value.subarray(1), value[0]) : null;
        if (!route) throw new PeerInfoError('a route field that is not a network prefix');
        if (routes.length === MAX_INFO_ROUTES) throw new PeerInfoError(`more than ${MAX_INFO_ROUTES} routes`);
        routes.push(route);
        break;
      }
      case TAG.mode:
        if (seenMode || length !== 1 || value[0] > 1) throw new PeerInfoError('a bad mode field');
        seenMode = true;
        info.mode = value[0] === 1 ? 'tap' : 'tun';
        break;
    }
  }
  return info;
}
