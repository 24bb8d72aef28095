// The real `meshboi rolodex` process started from a config file and serving /metrics: a heartbeat
// sent over UDP moves the counters a scrape reads, and a bad file stops it with file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { childEnvironment, MESHBOI_CLI, startRolodexProcess } from '../rolodex/rolodex-process';
import { sleep } from '../support/wait';
import { readPrometheusText, sampleValue, type MetricFamily } from './prometheus-text';

function withConfigFile<T>(text: string, body: (file: string) => Promise<T>): Promise<T> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'meshboi-rolodex-config-'));
  const file = path.join(directory, 'rolodex.yml');
  fs.writeFileSync(file, text);
  return body(file).finally(() => fs.rmSync(directory, { recursive: true, force: true }));
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const response = await get(url);
  assert.equal(response.status, 200);
  return readPrometheusText(response.body);
}

/** Scrapes until `condition` holds; fails with the last scrape after `timeoutMs`. */
async function scrapeUntil(url: string, what: string, condition: (families: Map<string, MetricFamily>) => boolean, timeoutMs = 5000): Promise<Map<string, MetricFamily>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const families = await scrape(url);
    if (condition(families)) return families;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

test('a rolodex started with --config comes up with the file values, flags overriding them', async () => {
  const text = 'listen-port: 1\nmap-interval: 0.2\nmax-networks: 7\nsummary-interval: 0\nlog-level: debug\n';
  await withConfigFile(text, async (file) => {
    const rolodex = await startRolodexProcess(['--config', file]);
    try {
      const listening = rolodex.lines.find((line) => line.message === 'listening') as Record<string, unknown>;
      assert.equal(listening.mapIntervalMs, 200);
      assert.equal(listening.maxNetworks, 7);
      assert.equal(listening.summaryIntervalMs, 0);
      assert.notEqual(rolodex.port, 1, '--listen-port 0 on the command line wins over the file');
      assert.equal(listening.metrics, undefined, 'no metrics unless asked for');
    } finally {
      assert.equal(await rolodex.stop(), 0);
    }
  });
});

test('a heartbeat sent to the rolodex shows in a scrape of --metrics-address', async () => {
  const rolodex = await startRolodexProcess(['--metrics-address', '127.0.0.1:0', '--map-interval', '60']);
  const member = dgram.createSocket('udp4');
  try {
    const url = (rolodex.lines.find((line) => line.message === 'listening') as { metrics: string }).metrics;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const before = await scrape(url);
    assert.equal(sampleValue(before, 'meshboi_rolodex_heartbeats_total'), 0);
    assert.equal(before.get('meshboi_rolodex_heartbeats_total')?.type, 'counter');
    assert.match(before.get('meshboi_rolodex_heartbeats_total')?.help ?? '', /heartbeats/i);
    await new Promise<void>((resolve) => member.bind(0, '127.0.0.1', resolve));
    member.send(JSON.stringify({ NetworkName: 'metrics-test' }), rolodex.port, '127.0.0.1');
    member.send('not a heartbeat', rolodex.port, '127.0.0.1');
    const after = await scrapeUntil(url, 'the heartbeat and the junk to be counted', (families) => sampleValue(families, 'meshboi_rolodex_received_datagrams_total') >= 2);
    assert.equal(sampleValue(after, 'meshboi_rolodex_heartbeats_total'), 1);
    assert.equal(sampleValue(after, 'meshboi_rolodex_joins_total'), 1);
    assert.equal(sampleValue(after, 'meshboi_rolodex_members'), 1);
    assert.equal(sampleValue(after, 'meshboi_rolodex_networks'), 1);
    assert.equal(sampleValue(after, 'meshboi_rolodex_dropped_datagrams_total', { reason: 'not_json' }), 1);
    await scrapeUntil(url, 'the map sent back to be counted', (families) => sampleValue(families, 'meshboi_rolodex_sent_datagrams_total') >= 1);
    assert.equal((await get(url.replace('/metrics', '/'))).status, 404);
    assert.equal(await rolodex.stop(), 0);
    await assert.rejects(get(url), /ECONNREFUSED/, 'the metrics port closes with the rolodex');
  } finally {
    member.close();
    await rolodex.stop();
  }
});

function runRolodex(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MESHBOI_CLI, 'rolodex', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: childEnvironment() });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

test('a config file with a misspelt key, or a busy metrics port, ends the rolodex with a clear error', async () => {
  await withConfigFile('listen-address: 127.0.0.1\nlisten-port: 0\nmetrics-adress: 127.0.0.1:0\n', async (file) => {
    const result = await runRolodex(['--config', file]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `meshboi: ${file}:3: unknown key "metrics-adress" (did you mean metrics-address?)\n`);
  });
  const first = await startRolodexProcess(['--metrics-address', '127.0.0.1:0']);
  try {
    const port = new URL((first.lines.find((line) => line.message === 'listening') as { metrics: string }).metrics).port;
    const second = await runRolodex(['--listen-address', '127.0.0.1', '--listen-port', '0', '--metrics-address', `127.0.0.1:${port}`]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\); pick another --metrics-address`));
  } finally {
    await first.stop();
  }
});
