// Answers a DNS query from a directory of names: forward names HOST.ZONE to their A and AAAA
// records, reverse names (in-addr.arpa, ip6.arpa) to PTR records. Authoritative for the zone and
// for reverse names of the directory's addresses; anything else is refused (we are no resolver).
import { decodeQuery, DnsFormatError, DNS_CLASS_IN, DNS_TYPE, encodeReply, headerId, RCODE, type DnsAnswer, type DnsQuery } from './message';

export interface NameDirectory {
  /** Lower-case labels of the zone we answer for, e.g. ["home", "meshboi"]. */
  readonly zone: readonly string[];
  /** A host's addresses (4 or 16 bytes each); null when the zone has no such host. */
  addressesOf(host: string): readonly Buffer[] | null;
  /** The host name (first label) holding an address of 4 or 16 bytes; null when none does. */
  hostOf(address: Buffer): string | null;
}

const DNS_CLASS_ANY = 255;

/** The reply to one query, or null when the message deserves none (a response, or no readable header). */
export function answerQuery(message: Buffer, directory: NameDirectory, ttl: number): Buffer | null {
  let query: DnsQuery;
  try {
    query = decodeQuery(message);
  } catch (error) {
    if (!(error instanceof DnsFormatError)) throw error;
    const id = headerId(message);
    return id === null ? null : encodeReply({ id, recursionDesired: false, rcode: RCODE.formErr, questionBytes: null, answers: [] });
  }
  const reply = (rcode: number, answers: readonly DnsAnswer[] = []): Buffer =>
    encodeReply({ id: query.id, recursionDesired: query.recursionDesired, rcode, questionBytes: query.questionBytes, answers });
  if (query.opcode !== 0) return reply(RCODE.notImp);
  if (query.class !== DNS_CLASS_IN && query.class !== DNS_CLASS_ANY) return reply(RCODE.refused);

  const reverse = reverseAddress(query.labels);
  if (reverse !== undefined) {
    if (reverse === null) return reply(RCODE.nxDomain);
    const host = directory.hostOf(reverse);
    if (host === null) return reply(RCODE.nxDomain);
    const wanted = query.type === DNS_TYPE.PTR || query.type === DNS_TYPE.ANY;
    return reply(RCODE.noError, wanted ? [{ type: DNS_TYPE.PTR, name: [host, ...directory.zone].join('.'), ttl }] : []);
  }

  const zone = directory.zone;
  const inZone = query.labels.length >= zone.length && zone.every((label, i) => query.labels[query.labels.length - zone.length + i] === label);
  if (!inZone) return reply(RCODE.refused);
  if (query.labels.length === zone.length) return reply(RCODE.noError);
  if (query.labels.length > zone.length + 1) return reply(RCODE.nxDomain);
  const addresses = directory.addressesOf(query.labels[0]);
  if (addresses === null) return reply(RCODE.nxDomain);
  const answers: DnsAnswer[] = [];
  for (const address of addresses) {
    const type = address.length === 4 ? DNS_TYPE.A : DNS_TYPE.AAAA;
    if (query.type === type || query.type === DNS_TYPE.ANY) answers.push({ type, address, ttl });
  }
  return reply(RCODE.noError, answers);
}

/**
 * The address a reverse name stands for: undefined when the name is not a reverse name at all,
 * null when it is one but names no whole address (a zone such as 168.192.in-addr.arpa).
 */
export function reverseAddress(labels: readonly string[]): Buffer | null | undefined {
  const tail = labels.slice(-2).join('.');
  if (tail === 'in-addr.arpa') {
    const octets = labels.slice(0, -2);
    if (octets.length !== 4 || !octets.every((octet) => /^(0|[1-9][0-9]{0,2})$/.test(octet) && Number(octet) <= 255)) return null;
    return Buffer.from(octets.map(Number).reverse());
  }
  if (tail === 'ip6.arpa') {
    const nibbles = labels.slice(0, -2);
    if (nibbles.length !== 32 || !nibbles.every((nibble) => /^[0-9a-f]$/.test(nibble))) return null;
    return Buffer.from(nibbles.slice().reverse().join(''), 'hex');
  }
  return undefined;
}

/** The reverse zone covering a prefix, rounded out to whole octets (IPv4) or nibbles (IPv6): what a resolver routes to us. */
export function reverseZone(address: Buffer, prefixLength: number): string {
  if (address.length === 4) {
    const octets = [...address.subarray(0, Math.floor(prefixLength / 8))].reverse();
    return [...octets, 'in-addr', 'arpa'].join('.');
  }
  const nibbles = address.toString('hex').slice(0, Math.floor(prefixLength / 4)).split('').reverse();
  return [...nibbles, 'ip6', 'arpa'].join('.');
}
