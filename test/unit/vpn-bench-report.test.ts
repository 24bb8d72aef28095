// The VPN benchmark's pure parts: target verdicts against Nebula's figures, the table's ratios and
// failure rows, and the ranking of a V8 CPU profile by self time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median } from '../../bench/vpn-measure';
import { summariseProfile } from '../../bench/vpn-profile';
import { judgeTargets, relayedVsDirect, renderTable, type MemoryResult, type ToolResult } from '../../bench/vpn-report';

function tool(name: string, figures: Partial<ToolResult>): ToolResult {
  return {
    tool: name, status: 'ok', tcp_mbps_runs: [], tcp_mbps_median: null, tcp_retransmits: null, udp_pps_runs: [], udp_pps: null,
    rtt_ms: null, rtt_cold_ms: null, rtt_added_ms: null, rtt_cold_added_ms: null, rtt_loaded_ms: null, rtt_loaded_added_ms: null, cpu_pct: null, tunnel_cpu_pct: null, machine_cpu_pct: null,
    cpu_pct_per_gbps: null, ...figures,
  };
}

const nebula = tool('nebula', { tcp_mbps_median: 400, rtt_added_ms: 0.2, rtt_cold_added_ms: 0.4, cpu_pct_per_gbps: 400, udp_pps: 20000, rtt_ms: 0.25 });
const wireguard = tool('wireguard-go', { tcp_mbps_median: 300 });

test('median takes the middle value, or the mean of the two middle ones', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('the default member meets a target only on the right side of its limit, judged against Nebula and wireguard-go of the same run', () => {
  const meshboi = tool('meshboi', { tcp_mbps_median: 799, rtt_added_ms: 0.2, rtt_cold_added_ms: 0.41, cpu_pct_per_gbps: 240, udp_pps: 30000 });
  const verdicts = judgeTargets([nebula, wireguard, meshboi, tool('meshboi-1420', { tcp_mbps_median: 1 })], null);
  assert.deepEqual(
    verdicts.map((entry) => [entry.tool, entry.target, entry.ratio, entry.met]),
    [
      ['meshboi', 'TCP throughput vs Nebula', 2, false],
      ['meshboi', 'TCP throughput vs wireguard-go', 2.66, true],
      ['meshboi', 'CPU per Gbit/s vs Nebula', 0.6, true],
      ['meshboi', 'added RTT over bare vs Nebula, warm', 1, true],
      ['meshboi', 'added RTT over bare vs Nebula, cold', 1.02, false],
      ['meshboi', 'UDP datagrams/s vs Nebula', 1.5, true],
    ],
  );
});

test('a target without a Nebula figure is not judged rather than met', () => {
  const verdicts = judgeTargets([tool('meshboi', { tcp_mbps_median: 500 })], null);
  assert.ok(verdicts.every((entry) => entry.met === null));
});

test('member memory measured with fewer peers than asked is not judged, however small', () => {
  const partial: MemoryResult = { peers_wanted: 50, peers_established: 28, rss_mb: 60, status: 'failed', reason: 'timeout', method: '' };
  assert.equal(judgeTargets([], partial)[0]?.met, null);
  assert.equal(judgeTargets([], { ...partial, peers_established: 50, status: 'ok' })[0]?.met, true);
  assert.equal(judgeTargets([], { ...partial, peers_established: 50, status: 'ok', rss_mb: 120 })[0]?.met, false);
});

test('the table shows ratios to Nebula and a failed tool as one FAILED row with its reason on one line', () => {
  const table = renderTable([nebula, tool('meshboi', { tcp_mbps_median: 200, udp_pps: 10000, rtt_ms: 0.5 }), tool('broken', { status: 'failed', reason: 'did not come up:\nno | path' })]);
  const rows = table.split('\n');
  assert.equal(rows.length, 5);
  assert.match(rows[3] ?? '', /^\| meshboi \| — \| 200 \| 0\.50x \| — \| 10000 \| 0\.50x \|/);
  assert.match(rows[4] ?? '', /^\| broken \| — \| FAILED: did not come up: no \/ path \|/);
});

test('a profile is ranked by self time, idle left out of the busy total', () => {
  const frame = (id: number, functionName: string, url = ''): { id: number; callFrame: { functionName: string; url: string; lineNumber: number } } =>
    ({ id, callFrame: { functionName, url, lineNumber: 9 } });
  const profile = {
    nodes: [frame(1, '(idle)'), frame(2, 'doSend', 'node:dgram'), frame(3, 'seal', 'file:///x/dist/src/dtls/cipher/sodium-aead.js')],
    samples: [1, 2, 2, 3, 2, 1],
    timeDeltas: [5000, 1000, 1000, 1000, 1000, 5000],
  };
  const summary = summariseProfile('sender', 'p.cpuprofile', profile);
  assert.equal(summary.busyMs, 4);
  assert.equal(summary.idleMs, 10);
  assert.deepEqual(summary.functions.map((row) => [row.name, row.percent]), [
    ['doSend (node:dgram:10)', 75],
    ['seal (src/dtls/cipher/sodium-aead.js:10)', 25],
  ]);
});

test('the relayed rows are compared with the direct one of the same run, never judged against Nebula', () => {
  const direct = tool('meshboi', { tcp_mbps_median: 200, udp_pps: 10_000, rtt_added_ms: 1 });
  const relayed = tool('meshboi-relayed', { tcp_mbps_median: 50, udp_pps: 2_500, rtt_added_ms: 4 });
  const rolodex = tool('meshboi-rolodex-relayed', { tcp_mbps_median: 100, udp_pps: 5_000, rtt_added_ms: 2 });
  assert.deepEqual([...new Set(judgeTargets([nebula, direct, relayed, rolodex], null).map((entry) => entry.tool))], ['meshboi']);
  assert.equal(relayedVsDirect([direct, relayed]), '- meshboi-relayed vs meshboi direct: TCP 0.25x, UDP 0.25x, added RTT 4x');
  assert.equal(
    relayedVsDirect([direct, rolodex, relayed]),
    '- meshboi-relayed vs meshboi direct: TCP 0.25x, UDP 0.25x, added RTT 4x\n- meshboi-rolodex-relayed vs meshboi direct: TCP 0.5x, UDP 0.5x, added RTT 2x',
  );
  assert.equal(relayedVsDirect([direct]), '');
});
