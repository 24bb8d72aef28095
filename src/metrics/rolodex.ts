// The rolodex's metrics: what its summary line counts (networks, members, datagrams, heartbeats,
// joins, forgotten members, drops by reason, throttled sends, verified
// reachability cookies, members catching up, relayed frames), per scrape.
import type { RolodexStats } from '../../rolodex/server';
import { SnapshotMetrics, type MetricDefinition, type Samples } from './snapshot';

export const ROLODEX_METRICS = [
  { name: 'meshboi_rolodex_networks', type: 'gauge', labels: [], help: 'Networks with at least one member.' },
  { name: 'meshboi_rolodex_members', type: 'gauge', labels: [], help: 'Members across all networks.' },
  {
    name: 'meshboi_rolodex_members_catching_up',
    type: 'gauge',
    labels: [],
    help: "Members still owed part of their network's list (newcomers, or announcements not yet sent).",
  },
  { name: 'meshboi_rolodex_received_datagrams_total', type: 'counter', labels: [], help: 'UDP datagrams received, valid or not.' },
  { name: 'meshboi_rolodex_received_bytes_total', type: 'counter', labels: [], help: 'Bytes of UDP datagrams received.' },
  { name: 'meshboi_rolodex_heartbeats_total', type: 'counter', labels: [], help: 'Valid heartbeats received.' },
  { name: 'meshboi_rolodex_joins_total', type: 'counter', labels: [], help: 'Members registered (a member whose LAN endpoints change counts once).' },
  { name: 'meshboi_rolodex_forgotten_members_total', type: 'counter', labels: [], help: 'Members forgotten after --forget-after without a heartbeat.' },
  {
    name: 'meshboi_rolodex_dropped_datagrams_total',
    type: 'counter',
    labels: ['reason'],
    help: 'Received datagrams dropped: malformed heartbeats and refused registrations, by reason.',
  },
  { name: 'meshboi_rolodex_sent_datagrams_total', type: 'counter', labels: [], help: 'Map and Gone datagrams sent.' },
  { name: 'meshboi_rolodex_sent_bytes_total', type: 'counter', labels: [], help: 'Bytes of map and Gone datagrams sent.' },
  {
    name: 'meshboi_rolodex_throttled_datagrams_total',
    type: 'counter',
    labels: [],
    help: "Datagrams not sent because their destination's byte budget (--send-budget) was spent.",
  },
  {
    name: 'meshboi_rolodex_reachability_verifications_total',
    type: 'counter',
    labels: [],
    help: 'Reachability cookies echoed back, each proving a member receives our datagrams at its address.',
  },
  { name: 'meshboi_rolodex_relayed_frames_total', type: 'counter', labels: [], help: 'Relay frames forwarded between members of a network (--relay).' },
  { name: 'meshboi_rolodex_relayed_bytes_total', type: 'counter', labels: [], help: 'Bytes of the relay frames sent for them (--relay).' },
] as const satisfies readonly MetricDefinition[];

export type RolodexMetricName = (typeof ROLODEX_METRICS)[number]['name'];

export function rolodexSamples(stats: RolodexStats): Samples<RolodexMetricName> {
  const one = (value: number) => [{ value }];
  return {
    meshboi_rolodex_networks: one(stats.networks),
    meshboi_rolodex_members: one(stats.members),
    meshboi_rolodex_members_catching_up: one(stats.catchingUp),
    meshboi_rolodex_received_datagrams_total: one(stats.datagramsIn),
    meshboi_rolodex_received_bytes_total: one(stats.bytesIn),
    meshboi_rolodex_heartbeats_total: one(stats.heartbeats),
    meshboi_rolodex_joins_total: one(stats.joins),
    meshboi_rolodex_forgotten_members_total: one(stats.forgotten),
    meshboi_rolodex_dropped_datagrams_total: Object.entries(stats.drops).map(([reason, value]) => ({ labels: { reason }, value: value ?? 0 })),
    meshboi_rolodex_sent_datagrams_total: one(stats.datagramsOut),
    meshboi_rolodex_sent_bytes_total: one(stats.bytesOut),
    meshboi_rolodex_throttled_datagrams_total: one(stats.throttled),
    meshboi_rolodex_reachability_verifications_total: one(stats.verifications),
    meshboi_rolodex_relayed_frames_total: one(stats.relayedFrames),
    meshboi_rolodex_relayed_bytes_total: one(stats.relayedBytes),
  };
}

/** The rolodex's metrics, read from `stats()` (RolodexServer.stats) on each scrape. */
export function rolodexMetrics(stats: () => RolodexStats): SnapshotMetrics<RolodexMetricName> {
  return new SnapshotMetrics(ROLODEX_METRICS, () => rolodexSamples(stats()));
}
