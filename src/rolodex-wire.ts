// The rolodex wire codec: heartbeats and network maps as JSON datagrams, plus the pre-rendered
// pieces the rolodex packs into maps of at most 1,200 bytes. Pure functions, no I/O.
import type { Endpoint } from './net/transport';
import { formatEndpoint } from './net/transport';

export type { Endpoint } from './net/transport';

/** The largest heartbeat we accept: ours carry a name and a few LAN endpoints, originals a name. */
export const MAX_HEARTBEAT_BYTES = 1200;
/** Original peers read maps with a 65,535-byte buffer, so an original rolodex may send this much. */
export const MAX_MAP_BYTES = 65_535;
/** Every map datagram our rolodex sends fits in this, below any path MTU we expect. */
export const MAX_MAP_DATAGRAM_BYTES = 1200;
/** LAN endpoints one member may advertise; more would crowd the maps that carry them. */
export const MAX_LOCAL_ENDPOINTS = 8;
/** The version of our `Meshboi` extension object. */
export const EXTENSION_VERSION = 1;
/** The version of the rolodex relay frames, `Meshboi.Relay` in heartbeats and cookie datagrams. */
export const RELAY_VERSION = 1;
/** A cookie is URL-safe base64 of at most this many characters. */
const MAX_COOKIE_CHARS = 64;
/**
 * A member's opaque field is URL-safe base64 of at most this many characters: room for a sealed
 * outside endpoint, a time and MAX_LOCAL_ENDPOINTS IPv6 LAN endpoints (a blind network's voucher).
 */
export const MAX_OPAQUE_CHARS = 320;
const URL_SAFE_BASE64 = /^[A-Za-z0-9_-]+$/;

export interface Heartbeat {
  networkName: string;
  local: Endpoint[];
  /** The heartbeat carried our extension, so the sender understands `Meshboi` in maps. */
  meshboi: boolean;
  /** The latest cookie the member received from this rolodex, echoed to prove it receives there. */
  cookie?: string;
  /** Whatever the member wants relayed beside its entry; the rolodex passes it on unread. */
  opaque?: string;
  /** The member takes relay frames (`Meshboi.Relay`): a rolodex that relays may deliver to it. */
  relay?: boolean;
}

export interface NetworkMap {
  addresses: Endpoint[];
  yourIndex: number;
  /** LAN endpoints keyed by the formatted outside endpoint ("1.2.3.4:5"). */
  local: Map<string, Endpoint[]>;
  gone: Endpoint[];
  meshboi: boolean;
  /** A cookie for the recipient to echo in its heartbeats (see RolodexServer's verification). */
  cookie?: string;
  /** The opaque fields of the members listed, keyed like `local`. */
  opaque: Map<string, string>;
  /** The rolodex relays for us (`Meshboi.Relay` beside a cookie, see encodeCookieDatagram). */
  relay?: boolean;
  /** The members listed that the rolodex relays to (`Meshboi.RelayTo`), keyed like `local`; absent when none. */
  relayTo?: Set<string>;
}

export type RolodexCodecReason =
  | 'too_large'
  | 'not_json'
  | 'not_object'
  | 'bad_field'
  | 'bad_address'
  | 'bad_index'
  | 'too_many';

export class RolodexCodecError extends Error {
  constructor(readonly reason: RolodexCodecReason, message: string) {
    super(message);
    this.name = 'RolodexCodecError';
  }
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: RolodexCodecError };

function fail<T>(reason: RolodexCodecReason, message: string): Decoded<T> {
  return { ok: false, error: new RolodexCodecError(reason, message) };
}

// ---------------------------------------------------------------------------------------------
// Endpoints: "a.b.c.d:port" and "[v6]:port", as Go's net.UDPAddr.String() writes them.

const IPV4_PART = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const PORT = /^[1-9]\d{0,4}$/;

function parseIPv4Bytes(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => IPV4_PART.test(part))) return null;
  return parts.map(Number);
}

/** Sixteen bytes, or null; accepts "::" compression and a trailing dotted quad, no zone. */
function parseIPv6Bytes(text: string): number[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (half: string): number[] | null => {
    if (half === '') return [];
    const out: number[] = [];
    const pieces = half.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIPv4Bytes(piece);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return groups.flatMap((group) => [group >> 8, group & 0xff]);
}

/** RFC 5952 text: lowercase, the longest run of two or more zero groups (leftmost) as "::". */
function formatIPv6(bytes: number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function isMappedIPv4(bytes: number[]): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * "a.b.c.d:port" or "[v6]:port" to an Endpoint with the address in canonical text (IPv4-mapped
 * IPv6 becomes plain IPv4, as the UDP transport reports it), or null. Port 0 and zones are refused.
 */
export function parseEndpoint(text: string): Endpoint | null {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return null;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    const bytes = parseIPv6Bytes(host);
    if (!bytes) return null;
    host = isMappedIPv4(bytes) ? bytes.slice(12).join('.') : formatIPv6(bytes);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return null;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (!parseIPv4Bytes(host)) return null;
  }
  if (!PORT.test(portText)) return null;
  const port = Number(portText);
  if (port > 65_535) return null;
  return { address: host, port };
}

/** The 4 or 16 bytes of a canonical IPv4 or IPv6 address; empty when it is neither. */
export function addressBytes(address: string): number[] {
  return address.includes(':') ? (parseIPv6Bytes(address) ?? []) : (parseIPv4Bytes(address) ?? []);
}

// ---------------------------------------------------------------------------------------------
// Decoding.

function parseObject(bytes: Uint8Array, limit: number, what: string): Decoded<Record<string, unknown>> {
  if (bytes.length > limit) {
    return fail('too_large', `${what} of ${bytes.length} bytes is over the ${limit}-byte limit`);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    return fail('not_json', `${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('not_object', `${what} is JSON but not an object`);
  }
  return { ok: true, value: value as Record<string, unknown> };
}

function parseEndpointList(value: unknown, field: string, max: number): Decoded<Endpoint[]> {
  if (!Array.isArray(value)) return fail('bad_field', `${field} must be an array of "ip:port" strings`);
  if (value.length > max) return fail('too_many', `${field} lists ${value.length} endpoints, at most ${max} allowed`);
  const endpoints: Endpoint[] = [];
  for (const item of value) {
    const endpoint = typeof item === 'string' ? parseEndpoint(item) : null;
    if (!endpoint) {
      return fail('bad_address', `${field} holds ${JSON.stringify(item)?.slice(0, 60)}, not an "ip:port" endpoint`);
    }
    endpoints.push(endpoint);
  }
  return { ok: true, value: endpoints };
}

/** Our extension object, if present: an object with a positive integer `V`. */
function parseExtension(message: Record<string, unknown>): Decoded<Record<string, unknown> | null> {
  const extension = message.Meshboi;
  if (extension === undefined) return { ok: true, value: null };
  if (typeof extension !== 'object' || extension === null || Array.isArray(extension)) {
    return fail('bad_field', 'Meshboi must be an object');
  }
  const record = extension as Record<string, unknown>;
  if (!Number.isInteger(record.V) || (record.V as number) < 1) {
    return fail('bad_field', 'Meshboi.V must be a positive integer');
  }
  return { ok: true, value: record };
}

/** A short URL-safe base64 string, when present: `Meshboi.Cookie`, or a member's opaque field. */
function parseBase64(value: unknown, field: string, maxChars: number): Decoded<string | undefined> {
  if (value === undefined) return { ok: true, value: undefined };
  if (typeof value !== 'string' || value.length > maxChars || !URL_SAFE_BASE64.test(value)) {
    return fail('bad_field', `${field} must be URL-safe base64 of at most ${maxChars} characters`);
  }
  return { ok: true, value };
}

/**
 * `Meshboi.Relay`: the version of the rolodex relay frames (src/relay/rolodex-frame.ts) the sender
 * speaks; a version we do not know is as good as none.
 */
function parseRelayFlag(extension: Record<string, unknown> | null): Decoded<boolean> {
  const value = extension?.Relay;
  if (value === undefined) return { ok: true, value: false };
  if (!Number.isInteger(value) || (value as number) < 1) return fail('bad_field', 'Meshboi.Relay must be a positive integer');
  return { ok: true, value: value === RELAY_VERSION };
}

function parseCookie(extension: Record<string, unknown> | null): Decoded<string | undefined> {
  return parseBase64(extension?.Cookie, 'Meshboi.Cookie', MAX_COOKIE_CHARS);
}

export function decodeHeartbeat(bytes: Uint8Array): Decoded<Heartbeat> {
  const parsed = parseObject(bytes, MAX_HEARTBEAT_BYTES, 'heartbeat');
  if (!parsed.ok) return parsed;
  const networkName = parsed.value.NetworkName;
  if (typeof networkName !== 'string' || networkName === '') {
    return fail('bad_field', 'NetworkName must be a non-empty string');
  }
  const extension = parseExtension(parsed.value);
  if (!extension.ok) return extension;
  let local: Endpoint[] = [];
  if (extension.value && extension.value.Local !== undefined) {
    const endpoints = parseEndpointList(extension.value.Local, 'Meshboi.Local', MAX_LOCAL_ENDPOINTS);
    if (!endpoints.ok) return endpoints;
    local = endpoints.value;
  }
  const cookie = parseCookie(extension.value);
  if (!cookie.ok) return cookie;
  const opaque = parseBase64(extension.value?.Opaque, 'Meshboi.Opaque', MAX_OPAQUE_CHARS);
  if (!opaque.ok) return opaque;
  const relay = parseRelayFlag(extension.value);
  if (!relay.ok) return relay;
  const heartbeat: Heartbeat = { networkName, local, meshboi: extension.value !== null };
  if (cookie.value !== undefined) heartbeat.cookie = cookie.value;
  if (opaque.value !== undefined) heartbeat.opaque = opaque.value;
  if (relay.value) heartbeat.relay = true;
  return { ok: true, value: heartbeat };
}

export function encodeHeartbeat(heartbeat: Heartbeat): Buffer {
  const message: Record<string, unknown> = { NetworkName: heartbeat.networkName };
  if (heartbeat.meshboi) {
    const extension: Record<string, unknown> = { V: EXTENSION_VERSION, Local: heartbeat.local.map(formatEndpoint) };
    if (heartbeat.cookie !== undefined) extension.Cookie = heartbeat.cookie;
    if (heartbeat.opaque !== undefined) extension.Opaque = heartbeat.opaque;
    if (heartbeat.relay === true) extension.Relay = RELAY_VERSION;
    message.Meshboi = extension;
  }
  return Buffer.from(JSON.stringify(message), 'utf8');
}

/**
 * A table of the extension keyed by outside endpoint (`Meshboi.Local`, `Meshboi.Opaque`): an
 * object of "ip:port" -> entry, each entry checked by `parseEntry`; an absent entry is left out.
 */
function parseEndpointTable<T>(value: unknown, field: string, shape: string, parseEntry: (entry: unknown) => Decoded<T | undefined>): Decoded<Map<string, T>> {
  const table = new Map<string, T>();
  if (value === undefined) return { ok: true, value: table };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('bad_field', `${field} must be an object of "ip:port" -> ${shape}`);
  }
  for (const [key, entry] of Object.entries(value)) {
    const outside = parseEndpoint(key);
    if (!outside) return fail('bad_address', `${field} key ${JSON.stringify(key.slice(0, 60))} is not an "ip:port" endpoint`);
    const parsed = parseEntry(entry);
    if (!parsed.ok) return parsed;
    if (parsed.value !== undefined) table.set(formatEndpoint(outside), parsed.value);
  }
  return { ok: true, value: table };
}

export function decodeMap(bytes: Uint8Array): Decoded<NetworkMap> {
  const parsed = parseObject(bytes, MAX_MAP_BYTES, 'map');
  if (!parsed.ok) return parsed;
  const addresses = parseEndpointList(parsed.value.Addresses, 'Addresses', Number.MAX_SAFE_INTEGER);
  if (!addresses.ok) return addresses;
  const yourIndex = parsed.value.YourIndex;
  if (!Number.isInteger(yourIndex)) return fail('bad_field', 'YourIndex must be an integer');
  if ((yourIndex as number) < 0 || (yourIndex as number) >= addresses.value.length) {
    return fail('bad_index', `YourIndex ${String(yourIndex)} is outside Addresses (${addresses.value.length} entries)`);
  }
  const extension = parseExtension(parsed.value);
  if (!extension.ok) return extension;
  let local = new Map<string, Endpoint[]>();
  let gone: Endpoint[] = [];
  let opaque = new Map<string, string>();
  let relayTo: Set<string> | null = null;
  if (extension.value) {
    const table = parseEndpointTable(extension.value.Local, 'Meshboi.Local', '["ip:port", ...]', (list) => parseEndpointList(list, 'Meshboi.Local entry', MAX_LOCAL_ENDPOINTS));
    if (!table.ok) return table;
    local = table.value;
    const opaqueTable = parseEndpointTable(extension.value.Opaque, 'Meshboi.Opaque', '"<base64>"', (text) => parseBase64(text, 'Meshboi.Opaque entry', MAX_OPAQUE_CHARS));
    if (!opaqueTable.ok) return opaqueTable;
    opaque = opaqueTable.value;
    if (extension.value.Gone !== undefined) {
      const endpoints = parseEndpointList(extension.value.Gone, 'Meshboi.Gone', Number.MAX_SAFE_INTEGER);
      if (!endpoints.ok) return endpoints;
      gone = endpoints.value;
    }
    if (extension.value.RelayTo !== undefined) {
      const endpoints = parseEndpointList(extension.value.RelayTo, 'Meshboi.RelayTo', Number.MAX_SAFE_INTEGER);
      if (!endpoints.ok) return endpoints;
      relayTo = new Set(endpoints.value.map(formatEndpoint));
    }
  }
  const cookie = parseCookie(extension.value);
  if (!cookie.ok) return cookie;
  const relay = parseRelayFlag(extension.value);
  if (!relay.ok) return relay;
  const map: NetworkMap = { addresses: addresses.value, yourIndex: yourIndex as number, local, gone, meshboi: extension.value !== null, opaque };
  if (cookie.value !== undefined) map.cookie = cookie.value;
  if (relay.value) map.relay = true;
  if (relayTo !== null) map.relayTo = relayTo;
  return { ok: true, value: map };
}

// ---------------------------------------------------------------------------------------------
// Encoding maps. The rolodex renders each member's entry once and packs entries into chunks
// shared by every recipient; a datagram is one chunk plus, unless the chunk already lists the
// recipient, the recipient's own entry in front (YourIndex 0).
//
//   {"Addresses":[<recipient>,<chunk entries>],"YourIndex":n
//     [,"Meshboi":{"V":1,"Local":{<chunk local entries>}[,"Opaque":{<chunk opaque entries>}]
//        [,"RelayTo":[<chunk entries relayed to>]]}]}                    (maps: joins, rotation)
//   {"Addresses":[<recipient>],"YourIndex":0,"Meshboi":{"V":1,"Gone":[...]}}   (forgotten members)
//   {"Addresses":[<recipient>],"YourIndex":0,"Meshboi":{"V":1,"Cookie":"..."[,"Relay":1]}}
//                                                             (verification; we relay for you)

/** One member's entry, rendered once when it joins. */
export interface RenderedEntry {
  /** Formatted endpoint: the member's identity in maps and in `Local`. */
  readonly key: string;
  /** `"1.2.3.4:5"` */
  readonly quoted: string;
  /** `"1.2.3.4:5":["10.0.0.2:5"]`, or '' when the member advertised no LAN endpoint. */
  readonly localJson: string;
  /** `"1.2.3.4:5":"<base64>"`, or '' when the member sent no opaque field. */
  readonly opaqueJson: string;
  /** `"1.2.3.4:5"` when the rolodex relays to the member (it relays and the member takes frames), else ''. */
  readonly relayJson: string;
}

/** A run of entries rendered once and shared by every recipient's datagram. */
export interface MapChunk {
  readonly entries: readonly RenderedEntry[];
  /** The quoted entries joined by commas. */
  readonly addressesJson: string;
  /** The non-empty local entries joined by commas ('' for a chunk meant for original recipients). */
  readonly localJson: string;
  /** The non-empty opaque entries joined by commas ('' for a chunk meant for original recipients). */
  readonly opaqueJson: string;
  /** The non-empty relay entries joined by commas ('' for a chunk meant for original recipients). */
  readonly relayJson: string;
}

const MAP_OPEN = '{"Addresses":[';
const MAP_INDEX = '],"YourIndex":';
const EXTENSION_OPEN = `,"Meshboi":{"V":${EXTENSION_VERSION},`;
const LOCAL_OPEN = `${EXTENSION_OPEN}"Local":{`;
const GONE_OPEN = `${EXTENSION_OPEN}"Gone":[`;
const OPAQUE_OPEN = ',"Opaque":{';
const RELAY_TO_OPEN = ',"RelayTo":[';
/** The longest entry a recipient adds in front of a chunk: an IPv6 endpoint, quotes and comma. */
const RECIPIENT_RESERVE = '"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",'.length;
/** Room for YourIndex: a chunk never holds 10,000 entries in 1,200 bytes. */
const INDEX_RESERVE = 4;

export function renderEntry(outside: Endpoint, local: readonly Endpoint[], opaque?: string, relayTo = false): RenderedEntry {
  const key = formatEndpoint(outside);
  const quoted = JSON.stringify(key);
  const localJson = local.length === 0 ? '' : `${quoted}:${JSON.stringify(local.map(formatEndpoint))}`;
  // The codec let only URL-safe base64 through, so it needs no escaping.
  const opaqueJson = opaque === undefined ? '' : `${quoted}:"${opaque}"`;
  return { key, quoted, localJson, opaqueJson, relayJson: relayTo ? quoted : '' };
}

/**
 * Splits entries, in order, into chunks such that any recipient's datagram built from a chunk
 * stays within MAX_MAP_DATAGRAM_BYTES. `withLocal` renders chunks for recipients that understand
 * our extension (they carry `Local`), otherwise chunks for original recipients.
 */
export function packChunks(entries: readonly RenderedEntry[], withLocal: boolean): MapChunk[] {
  const fixed = MAP_OPEN.length + MAP_INDEX.length + INDEX_RESERVE + RECIPIENT_RESERVE + 1 + (withLocal ? LOCAL_OPEN.length + 3 + OPAQUE_OPEN.length + 1 + RELAY_TO_OPEN.length + 1 : 0);
  const chunks: MapChunk[] = [];
  let start = 0;
  let size = fixed;
  const close = (end: number): void => {
    const slice = entries.slice(start, end);
    const joined = (field: 'localJson' | 'opaqueJson' | 'relayJson'): string =>
      withLocal ? slice.filter((entry) => entry[field] !== '').map((entry) => entry[field]).join(',') : '';
    chunks.push({
      entries: slice,
      addressesJson: slice.map((entry) => entry.quoted).join(','),
      localJson: joined('localJson'),
      opaqueJson: joined('opaqueJson'),
      relayJson: joined('relayJson'),
    });
    start = end;
    size = fixed;
  };
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    let cost = entry.quoted.length + 1;
    if (withLocal && entry.localJson !== '') cost += entry.localJson.length + 1;
    if (withLocal && entry.opaqueJson !== '') cost += entry.opaqueJson.length + 1;
    if (withLocal && entry.relayJson !== '') cost += entry.relayJson.length + 1;
    if (size + cost > MAX_MAP_DATAGRAM_BYTES && i > start) close(i);
    size += cost;
  }
  if (entries.length > start) close(entries.length);
  return chunks;
}

/** One map datagram for `recipient`: the chunk, with the recipient in front unless listed. */
export function encodeChunkDatagram(chunk: MapChunk, recipient: RenderedEntry, withExtension: boolean): Buffer {
  const index = chunk.entries.indexOf(recipient);
  let text = MAP_OPEN;
  if (index < 0) text += chunk.addressesJson === '' ? recipient.quoted : `${recipient.quoted},${chunk.addressesJson}`;
  else text += chunk.addressesJson;
  text += MAP_INDEX + String(index < 0 ? 0 : index);
  if (withExtension) {
    text += `${LOCAL_OPEN}${chunk.localJson}}`;
    if (chunk.opaqueJson !== '') text += `${OPAQUE_OPEN}${chunk.opaqueJson}}`;
    if (chunk.relayJson !== '') text += `${RELAY_TO_OPEN}${chunk.relayJson}]`;
    text += '}';
  }
  return Buffer.from(`${text}}`, 'latin1');
}

/**
 * Splits forgotten members' quoted endpoints into `Gone` lists that each fit a datagram with
 * the recipient listed alone.
 */
export function packGone(quoted: readonly string[]): string[] {
  const fixed = MAP_OPEN.length + RECIPIENT_RESERVE + MAP_INDEX.length + 1 + GONE_OPEN.length + 3;
  const lists: string[] = [];
  let current: string[] = [];
  let size = fixed;
  for (const item of quoted) {
    if (size + item.length + 1 > MAX_MAP_DATAGRAM_BYTES && current.length > 0) {
      lists.push(current.join(','));
      current = [];
      size = fixed;
    }
    current.push(item);
    size += item.length + 1;
  }
  if (current.length > 0) lists.push(current.join(','));
  return lists;
}

/** A datagram telling an extension-aware recipient which members were forgotten. */
export function encodeGoneDatagram(goneJson: string, recipient: RenderedEntry): Buffer {
  return Buffer.from(`${MAP_OPEN}${recipient.quoted}${MAP_INDEX}0${GONE_OPEN}${goneJson}]}}`, 'latin1');
}

/**
 * A datagram handing an extension-aware recipient a cookie to echo in its heartbeats; `relay`
 * tells a member that takes relay frames that we relay for it (and that the cookie goes in them).
 */
export function encodeCookieDatagram(cookie: string, recipient: RenderedEntry, relay = false): Buffer {
  const relayJson = relay ? `,"Relay":${RELAY_VERSION}` : '';
  return Buffer.from(`${MAP_OPEN}${recipient.quoted}${MAP_INDEX}0${EXTENSION_OPEN}"Cookie":${JSON.stringify(cookie)}${relayJson}}}`, 'latin1');
}

/** A whole map in one datagram, with no size limit: the original rolodex's form, for tests and tools. */
export function encodeMap(map: NetworkMap): Buffer {
  const message: Record<string, unknown> = { Addresses: map.addresses.map(formatEndpoint), YourIndex: map.yourIndex };
  if (map.meshboi) {
    const local = Object.fromEntries([...map.local].map(([key, endpoints]) => [key, endpoints.map(formatEndpoint)]));
    const extension: Record<string, unknown> = { V: EXTENSION_VERSION, Local: local };
    if (map.gone.length > 0) extension.Gone = map.gone.map(formatEndpoint);
    if (map.cookie !== undefined) extension.Cookie = map.cookie;
    if (map.opaque.size > 0) extension.Opaque = Object.fromEntries(map.opaque);
    if (map.relay === true) extension.Relay = RELAY_VERSION;
    if (map.relayTo !== undefined) extension.RelayTo = [...map.relayTo];
    message.Meshboi = extension;
  }
  return Buffer.from(JSON.stringify(message), 'utf8');
}
