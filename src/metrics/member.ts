// The member's metrics as a pure function of its status (what `meshboi status --json` shows):
// member-wide drops, handshakes, DTLS record drops and peer counts, rolodex reachability, and per
// peer (labelled vpn_ip and endpoint) its state, packets, bytes, drops by reason, handshakes, the
// DTLS counters of its current sessions and its last handshake.
import type { SessionCounters } from '../dtls/index';
import type { HandshakeCounts } from '../member/handshake-watch';
import type { MemberStatus, PeerStatus } from '../member/status';
import { SnapshotMetrics, type MetricDefinition, type Samples } from './snapshot';

const PEER = ['vpn_ip', 'endpoint'] as const;

export const MEMBER_METRICS = [
  { name: 'meshboi_member_info', type: 'gauge', labels: ['network', 'vpn_ip', 'tun'], help: "The member's network, VPN address and TUN device; always 1." },
  { name: 'meshboi_member_tun_mtu_bytes', type: 'gauge', labels: [], help: 'MTU of the TUN device.' },
  {
    name: 'meshboi_member_dropped_total',
    type: 'counter',
    labels: ['reason'],
    help: 'Packets and datagrams dropped that no single peer can be charged with (no route, unknown sources, bad ClientHellos, bad maps), by reason.',
  },
  { name: 'meshboi_member_peers', type: 'gauge', labels: ['state'], help: 'Peers by session state.' },
  { name: 'meshboi_member_handshakes_completed_total', type: 'counter', labels: [], help: 'DTLS handshakes completed with any peer.' },
  {
    name: 'meshboi_member_handshakes_failed_total',
    type: 'counter',
    labels: ['cause'],
    help: 'DTLS handshakes that ended unfinished, by cause (psk_mismatch, timeout, refused, closed).',
  },
  {
    name: 'meshboi_member_dtls_dropped_records_total',
    type: 'counter',
    labels: ['reason'],
    help: "Records the peers' current DTLS sessions dropped, by reason: auth (failed authentication: forged, or another key), replay, malformed.",
  },
  { name: 'meshboi_member_rolodex_up', type: 'gauge', labels: ['rolodex'], help: '1 while the rolodex sends maps, 0 once it has gone silent.' },
  {
    name: 'meshboi_member_rolodex_last_map_timestamp_seconds',
    type: 'gauge',
    labels: ['rolodex'],
    help: 'When the last map from the rolodex arrived (Unix time); absent before the first.',
  },
  {
    name: 'meshboi_peer_info',
    type: 'gauge',
    labels: [...PEER, 'outside_address', 'kind', 'role', 'cipher_suite'],
    help: "A peer's outside address, kind (meshboi or original), DTLS role and cipher suite; always 1.",
  },
  {
    name: 'meshboi_peer_state',
    type: 'gauge',
    labels: [...PEER, 'state'],
    help: "1 for the peer's session state (punching, handshaking, established, closed, failed), 0 for the others.",
  },
  { name: 'meshboi_peer_received_packets_total', type: 'counter', labels: PEER, help: 'IP packets received from the peer through its session.' },
  { name: 'meshboi_peer_sent_packets_total', type: 'counter', labels: PEER, help: 'IP packets sent to the peer through its session.' },
  { name: 'meshboi_peer_received_bytes_total', type: 'counter', labels: PEER, help: 'Bytes of IP packets received from the peer.' },
  { name: 'meshboi_peer_sent_bytes_total', type: 'counter', labels: PEER, help: 'Bytes of IP packets sent to the peer.' },
  { name: 'meshboi_peer_dropped_total', type: 'counter', labels: [...PEER, 'reason'], help: 'Packets and records to or from the peer dropped, by reason.' },
  { name: 'meshboi_peer_handshakes_completed_total', type: 'counter', labels: PEER, help: 'DTLS handshakes completed with the peer.' },
  { name: 'meshboi_peer_handshakes_failed_total', type: 'counter', labels: [...PEER, 'cause'], help: 'DTLS handshakes with the peer that ended unfinished, by cause.' },
  {
    name: 'meshboi_peer_dtls_received_records_total',
    type: 'counter',
    labels: PEER,
    help: "Records the peer's current DTLS sessions authenticated (keepalives and probes included); a new session starts from 0.",
  },
  { name: 'meshboi_peer_dtls_sent_records_total', type: 'counter', labels: PEER, help: "Records the peer's current DTLS sessions sent." },
  {
    name: 'meshboi_peer_dtls_dropped_records_total',
    type: 'counter',
    labels: [...PEER, 'reason'],
    help: "Records the peer's current DTLS sessions dropped, by reason: auth, replay, malformed.",
  },
  {
    name: 'meshboi_peer_dtls_retransmitted_flights_total',
    type: 'counter',
    labels: PEER,
    help: "Handshake flights the peer's current DTLS sessions sent again after a timeout.",
  },
  {
    name: 'meshboi_peer_last_handshake_timestamp_seconds',
    type: 'gauge',
    labels: PEER,
    help: "When the peer's current session finished its handshake (Unix time); absent before one.",
  },
  {
    name: 'meshboi_peer_last_received_timestamp_seconds',
    type: 'gauge',
    labels: PEER,
    help: 'When the last authenticated record came from the peer (Unix time); absent before a handshake.',
  },
] as const satisfies readonly MetricDefinition[];

export type MemberMetricName = (typeof MEMBER_METRICS)[number]['name'];

/** Every state a peer can be in, so each has a series (0 when no peer is in it). */
const PEER_STATES: Record<PeerStatus['state'], true> = { punching: true, handshaking: true, established: true, closed: true, failed: true };

/**
 * The samples for `status`, taken at `now` (ms since the epoch; status gives ages, metrics give
 * timestamps). A peer not yet known by VPN address has an empty vpn_ip label.
 */
export function memberSamples(status: MemberStatus, now: number): Samples<MemberMetricName> {
  const states = Object.keys(PEER_STATES) as Array<PeerStatus['state']>;
  const timestamp = (agoMs: number) => Math.round(now - agoMs) / 1000;
  const samples: Samples<MemberMetricName> = {
    meshboi_member_info: [{ labels: { network: status.network, vpn_ip: status.vpnIp, tun: status.tun.name }, value: 1 }],
    meshboi_member_tun_mtu_bytes: [{ value: status.tun.mtu }],
    meshboi_member_dropped_total: Object.entries(status.drops).map(([reason, value]) => ({ labels: { reason }, value })),
    meshboi_member_peers: states.map((state) => ({ labels: { state }, value: status.peers.filter((peer) => peer.state === state).length })),
    meshboi_member_handshakes_completed_total: [{ value: status.handshakes.completed }],
    meshboi_member_handshakes_failed_total: failedSamples(status.handshakes),
    meshboi_member_dtls_dropped_records_total: dtlsDropSamples(status.dtls),
    meshboi_member_rolodex_up: status.rolodexes.map((rolodex) => ({ labels: { rolodex: rolodex.address }, value: rolodex.reachable ? 1 : 0 })),
    meshboi_member_rolodex_last_map_timestamp_seconds: status.rolodexes.flatMap((rolodex) =>
      rolodex.lastMapAgoMs === null ? [] : [{ labels: { rolodex: rolodex.address }, value: timestamp(rolodex.lastMapAgoMs) }],
    ),
    meshboi_peer_info: [],
    meshboi_peer_state: [],
    meshboi_peer_received_packets_total: [],
    meshboi_peer_sent_packets_total: [],
    meshboi_peer_received_bytes_total: [],
    meshboi_peer_sent_bytes_total: [],
    meshboi_peer_dropped_total: [],
    meshboi_peer_handshakes_completed_total: [],
    meshboi_peer_handshakes_failed_total: [],
    meshboi_peer_dtls_received_records_total: [],
    meshboi_peer_dtls_sent_records_total: [],
    meshboi_peer_dtls_dropped_records_total: [],
    meshboi_peer_dtls_retransmitted_flights_total: [],
    meshboi_peer_last_handshake_timestamp_seconds: [],
    meshboi_peer_last_received_timestamp_seconds: [],
  };
  for (const peer of status.peers) {
    const labels = { vpn_ip: peer.vpnIp ?? '', endpoint: peer.endpoint };
    const add = (name: MemberMetricName, value: number, extra: Record<string, string> = {}): void => {
      samples[name].push({ labels: { ...labels, ...extra }, value });
    };
    add('meshboi_peer_info', 1, { outside_address: peer.outsideAddress, kind: peer.kind, role: peer.role, cipher_suite: peer.cipherSuite ?? '' });
    for (const state of states) add('meshboi_peer_state', peer.state === state ? 1 : 0, { state });
    add('meshboi_peer_received_packets_total', peer.packetsIn);
    add('meshboi_peer_sent_packets_total', peer.packetsOut);
    add('meshboi_peer_received_bytes_total', peer.bytesIn);
    add('meshboi_peer_sent_bytes_total', peer.bytesOut);
    for (const [reason, value] of Object.entries(peer.drops)) add('meshboi_peer_dropped_total', value, { reason });
    add('meshboi_peer_handshakes_completed_total', peer.handshakes.completed);
    for (const sample of failedSamples(peer.handshakes)) add('meshboi_peer_handshakes_failed_total', sample.value, sample.labels);
    add('meshboi_peer_dtls_received_records_total', peer.dtls.recordsIn);
    add('meshboi_peer_dtls_sent_records_total', peer.dtls.recordsOut);
    for (const sample of dtlsDropSamples(peer.dtls)) add('meshboi_peer_dtls_dropped_records_total', sample.value, sample.labels);
    add('meshboi_peer_dtls_retransmitted_flights_total', peer.dtls.retransmits);
    if (peer.sinceHandshakeMs !== null) add('meshboi_peer_last_handshake_timestamp_seconds', timestamp(peer.sinceHandshakeMs));
    if (peer.sinceLastPacketMs !== null) add('meshboi_peer_last_received_timestamp_seconds', timestamp(peer.sinceLastPacketMs));
  }
  return samples;
}

function failedSamples(counts: HandshakeCounts): Array<{ labels: Record<string, string>; value: number }> {
  return Object.entries(counts.failed).map(([cause, value]) => ({ labels: { cause }, value }));
}

function dtlsDropSamples(counters: SessionCounters): Array<{ labels: Record<string, string>; value: number }> {
  return [
    { labels: { reason: 'auth' }, value: counters.droppedAuth },
    { labels: { reason: 'replay' }, value: counters.droppedReplay },
    { labels: { reason: 'malformed' }, value: counters.droppedMalformed },
  ];
}

/** The member's metrics, read from `status()` (Member.status) on each scrape. */
export function memberMetrics(status: () => MemberStatus): SnapshotMetrics<MemberMetricName> {
  return new SnapshotMetrics(MEMBER_METRICS, () => memberSamples(status(), Date.now()));
}
