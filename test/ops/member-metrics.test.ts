// The member's Prometheus metrics from its status object: values, labels, timestamps, series of
// departed peers, and text that a Prometheus server would accept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MEMBER_METRICS, memberMetrics, memberSamples } from '../../src/metrics/member';
import type { MemberStatus } from '../../src/member/status';
import { STATUS_FIXTURE } from '../cli/status-fixture';
import { readPrometheusText, sampleValue } from './prometheus-text';

const NOW = 1_800_000_000_000;
const ORIGINAL_PEER = { vpn_ip: '192.168.50.10', endpoint: '198.51.100.77:5000' };
const LAN_PEER = { vpn_ip: '192.168.50.2', endpoint: '10.1.0.6:41999' };
const NEW_PEER = { vpn_ip: '', endpoint: '192.0.2.44:6000' };

async function scrape(status: () => MemberStatus) {
  return readPrometheusText(await memberMetrics(status).render());
}

test('every member metric is exposed with HELP and TYPE, counters named _total', async () => {
  const families = await scrape(() => STATUS_FIXTURE);
  assert.deepEqual([...families.keys()].sort(), MEMBER_METRICS.map((metric) => metric.name).sort());
  for (const metric of MEMBER_METRICS) assert.equal(families.get(metric.name)?.type, metric.type, metric.name);
});

test('peer counters carry the vpn_ip and endpoint labels, and a peer without a VPN address an empty vpn_ip', async () => {
  const families = await scrape(() => STATUS_FIXTURE);
  assert.equal(sampleValue(families, 'meshboi_peer_received_packets_total', ORIGINAL_PEER), 1200);
  assert.equal(sampleValue(families, 'meshboi_peer_sent_packets_total', ORIGINAL_PEER), 1100);
  assert.equal(sampleValue(families, 'meshboi_peer_received_bytes_total', ORIGINAL_PEER), 1_572_864);
  assert.equal(sampleValue(families, 'meshboi_peer_sent_bytes_total', LAN_PEER), 900);
  assert.equal(sampleValue(families, 'meshboi_peer_dropped_total', { ...ORIGINAL_PEER, reason: 'spoofed_source' }), 5);
  assert.equal(sampleValue(families, 'meshboi_peer_received_packets_total', NEW_PEER), 0);
  assert.equal(families.get('meshboi_peer_dropped_total')?.samples.filter((sample) => sample.labels.endpoint === LAN_PEER.endpoint).length, 0);
  const info = families.get('meshboi_peer_info')?.samples.find((sample) => sample.labels.endpoint === LAN_PEER.endpoint);
  assert.deepEqual(info?.labels, {
    ...LAN_PEER,
    outside_address: '203.0.113.7:41999',
    kind: 'meshboi',
    role: 'server',
    cipher_suite: 'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256',
  });
});

test('state is a gauge per state: 1 for the peer state, 0 for the others; the member counts peers by state', async () => {
  const families = await scrape(() => STATUS_FIXTURE);
  for (const state of ['punching', 'handshaking', 'established', 'closed', 'failed']) {
    assert.equal(sampleValue(families, 'meshboi_peer_state', { ...NEW_PEER, state }), state === 'handshaking' ? 1 : 0, state);
  }
  assert.equal(sampleValue(families, 'meshboi_member_peers', { state: 'established' }), 2);
  assert.equal(sampleValue(families, 'meshboi_member_peers', { state: 'handshaking' }), 1);
  assert.equal(sampleValue(families, 'meshboi_member_peers', { state: 'failed' }), 0);
});

test('member-wide drops, the TUN device and rolodex reachability come from the status', async () => {
  const families = await scrape(() => STATUS_FIXTURE);
  assert.equal(sampleValue(families, 'meshboi_member_dropped_total', { reason: 'no_route' }), 3);
  assert.equal(sampleValue(families, 'meshboi_member_dropped_total', { reason: 'bad_client_hello' }), 1);
  assert.equal(sampleValue(families, 'meshboi_member_tun_mtu_bytes'), 1200);
  assert.equal(sampleValue(families, 'meshboi_member_info', { network: 'office', vpn_ip: '192.168.50.1', tun: 'tun0' }), 1);
  assert.equal(sampleValue(families, 'meshboi_member_rolodex_up', { rolodex: '198.51.100.2:6264' }), 1);
  assert.equal(sampleValue(families, 'meshboi_member_rolodex_up', { rolodex: '198.51.100.9:6264' }), 0);
});

test('the DTLS engine\'s counters and handshakes by cause show per peer and member-wide', async () => {
  const families = await scrape(() => STATUS_FIXTURE);
  assert.equal(sampleValue(families, 'meshboi_peer_dtls_dropped_records_total', { ...ORIGINAL_PEER, reason: 'auth' }), 20_000);
  assert.equal(sampleValue(families, 'meshboi_peer_dtls_dropped_records_total', { ...ORIGINAL_PEER, reason: 'replay' }), 3);
  assert.equal(sampleValue(families, 'meshboi_peer_dtls_dropped_records_total', { ...LAN_PEER, reason: 'auth' }), 0);
  assert.equal(sampleValue(families, 'meshboi_peer_dtls_received_records_total', LAN_PEER), 7);
  assert.equal(sampleValue(families, 'meshboi_peer_dtls_sent_records_total', ORIGINAL_PEER), 1_100);
  assert.equal(sampleValue(families, 'meshboi_peer_dtls_retransmitted_flights_total', NEW_PEER), 2);
  assert.equal(sampleValue(families, 'meshboi_peer_handshakes_completed_total', ORIGINAL_PEER), 3);
  assert.equal(sampleValue(families, 'meshboi_peer_handshakes_failed_total', { ...NEW_PEER, cause: 'psk_mismatch' }), 2);
  assert.equal(sampleValue(families, 'meshboi_member_dtls_dropped_records_total', { reason: 'auth' }), 20_000);
  assert.equal(sampleValue(families, 'meshboi_member_handshakes_completed_total'), 4);
  assert.equal(sampleValue(families, 'meshboi_member_handshakes_failed_total', { cause: 'timeout' }), 1);
});

test('ages in the status become Unix timestamps in seconds, absent where the status has none', () => {
  const samples = memberSamples(STATUS_FIXTURE, NOW);
  assert.deepEqual(samples.meshboi_peer_last_handshake_timestamp_seconds, [
    { labels: ORIGINAL_PEER, value: (NOW - 3_723_000) / 1000 },
    { labels: LAN_PEER, value: (NOW - 42_000) / 1000 },
  ]);
  assert.deepEqual(samples.meshboi_peer_last_received_timestamp_seconds, [
    { labels: ORIGINAL_PEER, value: (NOW - 850) / 1000 },
    { labels: LAN_PEER, value: (NOW - 1_500) / 1000 },
  ]);
  assert.deepEqual(samples.meshboi_member_rolodex_last_map_timestamp_seconds, [{ labels: { rolodex: '198.51.100.2:6264' }, value: (NOW - 3_200) / 1000 }]);
});

test('each scrape reads the status afresh: counters follow it and a departed peer leaves no series', async () => {
  let status: MemberStatus = STATUS_FIXTURE;
  const metrics = memberMetrics(() => status);
  readPrometheusText(await metrics.render());
  const [first, ...others] = STATUS_FIXTURE.peers;
  status = { ...STATUS_FIXTURE, peers: [{ ...first, packetsIn: first.packetsIn + 10 }, ...others.slice(1)] };
  const families = readPrometheusText(await metrics.render());
  assert.equal(sampleValue(families, 'meshboi_peer_received_packets_total', ORIGINAL_PEER), 1210);
  assert.equal(families.get('meshboi_peer_sent_bytes_total')?.samples.some((sample) => sample.labels.endpoint === LAN_PEER.endpoint), false);
  assert.equal(sampleValue(families, 'meshboi_member_peers', { state: 'established' }), 1);
});

test('label values that need escaping come out escaped', async () => {
  const status = { ...STATUS_FIXTURE, network: 'the "office"\\lan' };
  const families = await scrape(() => status);
  assert.equal(sampleValue(families, 'meshboi_member_info', { network: 'the "office"\\lan' }), 1);
});
