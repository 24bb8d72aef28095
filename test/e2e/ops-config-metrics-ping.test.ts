// End to end, run as an operator would: a rolodex and a member started from config files alone
// come up behind real NATs; a scrape of the member's /metrics shows its packet counters move as
// pings flow and the rolodex's counts its members; `meshboi ping` prints a round trip per probe.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Lab } from '../../lab/lab';
import { MESHBOI_CLI, MeshMember, ROLODEX_PORT, startMember, waitFor, waitForListening } from '../../lab/meshboi';
import type { LabHost } from '../../lab/host';
import { readPrometheusText, sampleValue, type MetricFamily } from '../ops/prometheus-text';
import { E2E_SKIP } from './mesh-fixture';

const PSK = 'ops lab key: config files, metrics and probes';
const METRICS_PORT = 9465;

function writeConfig(host: LabHost, name: string, text: string): string {
  const file = path.join(host.runFolder, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** GET /metrics inside the host's namespace (the exporter listens on its loopback). */
async function scrape(host: LabHost, port: number): Promise<Map<string, MetricFamily>> {
  const fetchText = `fetch('http://127.0.0.1:${port}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`;
  return readPrometheusText(await host.mustExec(process.execPath, ['-e', fetchText], { timeoutMs: 10_000 }));
}

describe('ops: config files, metrics and meshboi ping', { skip: E2E_SKIP }, () => {
  let lab: Lab;
  let fromConfig: MeshMember;
  let other: MeshMember;

  before(async () => {
    lab = await Lab.create({ public: ['r'], nats: { home: { kind: 'cone', hosts: ['a'] }, office: { kind: 'cone', hosts: ['b'] } } });
    await lab.explainFailure(async () => {
      const r = lab.host('r');
      const rolodexConfig = writeConfig(r, 'rolodex.yml', `listen-port: ${ROLODEX_PORT}\nmetrics-address: 127.0.0.1:${METRICS_PORT}\nsummary-interval: 0\nlog-level: debug\n`);
      const rolodex = r.spawn(process.execPath, [MESHBOI_CLI, 'rolodex', '--config', rolodexConfig], { logName: 'rolodex-from-config.log' });
      await waitForListening(r, 'udp', ROLODEX_PORT, rolodex);

      const a = lab.host('a');
      const pskFile = writeConfig(a, 'a.psk', `${PSK}\n`);
      const controlSocket = path.join(a.runFolder, 'a.sock');
      const memberConfig = writeConfig(
        a,
        'member.yml',
        [
          '# as examples/member.yml, with the lab addresses',
          'network: ops',
          'vpn-ip: 192.168.50.1/24',
          'rolodex-address:',
          `  - ${r.address}:${ROLODEX_PORT}`,
          `psk-file: ${pskFile}`,
          'tun-name: ops0',
          `control-socket: ${controlSocket}`,
          `metrics-address: 127.0.0.1:${METRICS_PORT}`,
          'log-level: debug',
          '',
        ].join('\n'),
      );
      const child = a.spawn(process.execPath, [MESHBOI_CLI, 'member', '--config', memberConfig], { logName: 'member-from-config.log' });
      fromConfig = new MeshMember(a, child, '192.168.50.1', controlSocket);
      other = await startMember(lab.host('b'), { network: 'ops', psk: PSK, vpnIp: '192.168.50.2/24', rolodexes: [`${r.address}:${ROLODEX_PORT}`] });
      await Promise.all([fromConfig.waitForEstablished([other.vpnIp], 30_000), other.waitForEstablished([fromConfig.vpnIp], 30_000)]);
    });
  });
  after(() => lab?.teardown());

  test('the member from its config file uses the file values, and the rolodex from its file counts both members', () =>
    lab.explainFailure(async () => {
      const status = await fromConfig.status();
      assert.equal(status.network, 'ops');
      assert.equal(status.tun.name, 'ops0');
      const rolodex = await scrape(lab.host('r'), METRICS_PORT);
      assert.equal(sampleValue(rolodex, 'meshboi_rolodex_members'), 2);
      assert.ok((sampleValue(rolodex, 'meshboi_rolodex_heartbeats_total') ?? 0) > 0);
    }));

  test('the packet counters a scrape reads move as pings flow', () =>
    lab.explainFailure(async () => {
      const a = lab.host('a');
      const peer = { vpn_ip: other.vpnIp, endpoint: (await fromConfig.peer(other.vpnIp))!.endpoint };
      const before = await scrape(a, METRICS_PORT);
      const ping = await fromConfig.ping(other.vpnIp, 5);
      assert.equal(ping.received, 5);
      const after = await waitFor('the replies to show in a scrape', 5_000, async () => {
        const families = await scrape(a, METRICS_PORT);
        return (sampleValue(families, 'meshboi_peer_received_packets_total', peer) ?? 0) >= (sampleValue(before, 'meshboi_peer_received_packets_total', peer) ?? 0) + 5
          ? families
          : undefined;
      });
      for (const name of ['meshboi_peer_sent_packets_total', 'meshboi_peer_sent_bytes_total', 'meshboi_peer_dtls_sent_records_total', 'meshboi_peer_dtls_received_records_total']) {
        assert.ok((sampleValue(after, name, peer) ?? 0) >= (sampleValue(before, name, peer) ?? 0) + 5, name);
      }
      assert.equal(sampleValue(after, 'meshboi_peer_state', { ...peer, state: 'established' }), 1);
      assert.ok((sampleValue(after, 'meshboi_member_handshakes_completed_total') ?? 0) >= 1);
      assert.equal(sampleValue(after, 'meshboi_peer_dtls_dropped_records_total', { ...peer, reason: 'auth' }), 0);
    }));

  test('meshboi ping prints one line per probe with its round trip and path, then a summary', (t) =>
    lab.explainFailure(async () => {
      const result = await fromConfig.host.exec(process.execPath, [MESHBOI_CLI, 'ping', other.vpnIp, '--count', '3', '--control-socket', fromConfig.controlSocket], { timeoutMs: 20_000 });
      assert.equal(result.code, 0, result.stderr);
      for (const line of result.stdout.trim().split('\n')) t.diagnostic(line);
      const lines = result.stdout.trim().split('\n');
      assert.equal(lines.length, 4, result.stdout);
      const endpoint = (await fromConfig.peer(other.vpnIp))!.endpoint;
      for (const line of lines.slice(0, 3)) {
        assert.match(line, new RegExp(`^pong from 192\\.168\\.50\\.2 via ${endpoint.replace(/\./g, '\\.')} \\(direct\\) in \\d+\\.\\d+ ms$`));
      }
      assert.match(lines[3], /^--- 192\.168\.50\.2: 3 probes, 3 replies, round trip min\/avg\/max [\d.]+\/[\d.]+\/[\d.]+ ms$/);

      const unknown = await fromConfig.host.exec(process.execPath, [MESHBOI_CLI, 'ping', '192.168.50.77', '--count', '1', '--control-socket', fromConfig.controlSocket]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no peer has VPN IP 192\.168\.50\.77/);
      assert.match(await fromConfig.statusTable(), /DTLS records: \d+ in, \d+ out, dropped -/);
    }));
});
