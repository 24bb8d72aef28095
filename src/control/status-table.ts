// Renders a MemberStatus for people: a summary, the rolodexes, and one table row per peer.
import type { SessionCounters } from '../dtls/index';
import type { HandshakeCounts } from '../member/handshake-watch';
import type { MemberStatus } from '../member/status';

type Peer = MemberStatus['peers'][number];

const PEER_COLUMNS: Array<[header: string, cell: (peer: Peer) => string]> = [
  ['VPN IP', (peer) => [peer.vpnIp ?? '?', ...peer.extraVpnIps].join(',')],
  ['NAME', (peer) => peer.name ?? '-'],
  ['OUTSIDE', (peer) => (peer.endpoint === peer.outsideAddress ? peer.outsideAddress : `${peer.outsideAddress} via ${peer.endpoint}`)],
  ['ROLE', (peer) => peer.role],
  ['STATE', (peer) => peer.state],
  ['PATH', (peer) => (peer.path === null ? '-' : peer.path === 'direct' ? 'direct' : `relay ${peer.relay}`)],
  // A probed MTU above the device's (docs/member.md, "Path MTU"); '-' is the device's own.
  ['MTU', (peer) => (peer.mtu === null ? '-' : String(peer.mtu))],
  ['KIND', (peer) => peer.kind],
  ['HANDSHAKE', (peer) => formatAgo(peer.sinceHandshakeMs)],
  ['LAST PACKET', (peer) => formatAgo(peer.sinceLastPacketMs)],
  ['PACKETS IN/OUT', (peer) => `${peer.packetsIn}/${peer.packetsOut}`],
  ['BYTES IN/OUT', (peer) => `${formatBytes(peer.bytesIn)}/${formatBytes(peer.bytesOut)}`],
  ['DROPS', (peer) => formatDrops(peer.drops)],
  ['DTLS DROPS', (peer) => formatDrops(dtlsDrops(peer.dtls))],
  ['HANDSHAKES', (peer) => formatHandshakes(peer.handshakes)],
  ['LAST ERROR', (peer) => (peer.notDirect !== null ? `not direct: ${peer.notDirect}` : (peer.lastError ?? '-'))],
];

/** Shown only when some peer has routes: most networks have none. */
const ROUTES_COLUMN: [string, (peer: Peer) => string] = ['ROUTES', (peer) => peer.routes.join(',') || '-'];

export function renderStatus(status: MemberStatus): string {
  const lines: string[] = [];
  lines.push(
    `network ${status.network}  vpn-ip ${status.vpnIps.join(',')}  name ${status.name ?? '-'}  outside ${status.outsideAddress ?? 'unknown (no map yet)'}  ` +
      `tun ${status.tun.name} (mtu ${status.tun.mtu})`,
  );
  lines.push(`offloads: ${formatOffloads('tun', status.offloads.tun)}; ${formatOffloads('udp', status.offloads.udp)}`);
  if (status.nativePath !== null) lines.push(`native path: ${formatNativePath(status.nativePath)}`);
  lines.push(`drops not charged to a peer: ${formatDrops(status.drops)}`);
  lines.push(
    `DTLS records: ${status.dtls.recordsIn} in, ${status.dtls.recordsOut} out, ` +
      `dropped ${formatDrops(dtlsDrops(status.dtls))}, ${status.dtls.retransmits} flights retransmitted`,
  );
  lines.push(`handshakes: ${formatHandshakes(status.handshakes)}`);
  lines.push('');
  lines.push(`rolodexes (${status.rolodexes.length}):`);
  lines.push(
    ...table(
      ['ADDRESS', 'LAST MAP', 'REACHABLE'],
      status.rolodexes.map((rolodex) => [rolodex.address, formatAgo(rolodex.lastMapAgoMs), rolodex.reachable ? 'yes' : 'no']),
    ),
  );
  lines.push('');
  const established = status.peers.filter((peer) => peer.state === 'established').length;
  lines.push(`peers (${status.peers.length}, ${established} established):`);
  if (status.peers.length === 0) {
    lines.push('  none yet: the rolodex has not listed any other member of this network');
  } else {
    const peers = [...status.peers].sort(comparePeers);
    const columns = peers.some((peer) => peer.routes.length > 0) ? [...PEER_COLUMNS.slice(0, 2), ROUTES_COLUMN, ...PEER_COLUMNS.slice(2)] : PEER_COLUMNS;
    lines.push(...table(columns.map(([header]) => header), peers.map((peer) => columns.map(([, cell]) => cell(peer)))));
  }
  if (status.relay !== null) {
    const relay = status.relay;
    lines.push('');
    lines.push(
      `relaying for ${relay.pairs} pairs: ${relay.packets} packets, ${formatBytes(relay.bytes)}; refused ${formatDrops(relay.refused)}`,
    );
    if (relay.forwarding.length > 0) {
      lines.push(...table(['FROM', 'TO', 'PACKETS', 'BYTES'], relay.forwarding.map((pair) => [pair.from, pair.to, String(pair.packets), formatBytes(pair.bytes)])));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** "tun csum tso4 (missing: why)", or "tun none". */
function formatOffloads(what: string, offloads: MemberStatus['offloads']['tun']): string {
  if (offloads === null) return `${what} none`;
  const enabled = offloads.enabled.length > 0 ? offloads.enabled.join(' ') : 'none';
  return `${what} ${enabled}${offloads.problem ? ` (missing: ${offloads.problem})` : ''}`;
}

/** "2 sessions; in 1150 packets (1.4MiB) to tun, 50 opened for JavaScript, dropped replay=1; out 900 records sent, 0 refused", or "off (why)". */
function formatNativePath(native: NonNullable<MemberStatus['nativePath']>): string {
  const { receive, send } = native;
  if (!native.enabled || receive === null || send === null) return `off (${native.problem})`;
  const drops = formatDrops({ replay: receive.droppedReplay, auth: receive.droppedAuth, malformed: receive.malformed, tun_full: receive.deviceDrops });
  return (
    `${receive.armed} sessions; in ${receive.packets} packets (${formatBytes(receive.bytes)}) to tun, ${receive.openedUp} opened for JavaScript, ` +
    `dropped ${drops}; out ${send.sent} records sent, ${send.refused} refused` +
    (native.sendProblem === '' ? '' : ` (missing: ${native.sendProblem})`)
  );
}

/** Left-aligned columns two spaces apart, indented; the last column is not padded. */
function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column].length)));
  const format = (cells: string[]) =>
    `  ${cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ')}`;
  return [format(headers), ...rows.map(format)];
}

/** Peers with a VPN IP first, in address order, then the ones still unknown, by outside address. */
function comparePeers(a: Peer, b: Peer): number {
  if (a.vpnIp !== b.vpnIp) {
    if (a.vpnIp === null) return 1;
    if (b.vpnIp === null) return -1;
    return a.vpnIp.localeCompare(b.vpnIp, 'en', { numeric: true });
  }
  return a.outsideAddress.localeCompare(b.outsideAddress, 'en', { numeric: true });
}

/** The records a session dropped, by why: failed authentication (forged, or another key), replays, malformed or wrong epoch. */
function dtlsDrops(counters: SessionCounters): Record<string, number> {
  return { auth: counters.droppedAuth, replay: counters.droppedReplay, malformed: counters.droppedMalformed };
}

/** "3 ok, psk_mismatch=2,timeout=1"; "0 ok" when nothing failed. */
export function formatHandshakes(counts: HandshakeCounts): string {
  const failed = formatDrops(counts.failed);
  return failed === '-' ? `${counts.completed} ok` : `${counts.completed} ok, failed ${failed}`;
}

/** "never", "850ms ago", "42s ago", "5m03s ago", "2h05m ago", "3d04h ago". */
export function formatAgo(ms: number | null): string {
  if (ms === null) return 'never';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms ago`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s ago`;
  const two = (n: number) => String(n).padStart(2, '0');
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${two(seconds % 60)}s ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${two(Math.floor(seconds / 60) % 60)}m ago`;
  return `${Math.floor(seconds / 86400)}d${two(Math.floor(seconds / 3600) % 24)}h ago`;
}

/** Bytes in binary units with one decimal: "512B", "1.5KiB", "3.2MiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value}B` : `${value.toFixed(1)}${units[unit]}`;
}

/** Non-zero drop counters as "reason=count", most frequent first; "-" when nothing was dropped. */
export function formatDrops(drops: Record<string, number>): string {
  const nonZero = Object.entries(drops).filter(([, count]) => count > 0);
  if (nonZero.length === 0) return '-';
  return nonZero
    .sort(([reasonA, countA], [reasonB, countB]) => countB - countA || reasonA.localeCompare(reasonB))
    .map(([reason, count]) => `${reason}=${count}`)
    .join(',');
}
