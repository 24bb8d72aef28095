// The /metrics HTTP endpoint on its own: what it answers, the HOST:PORT it accepts, a busy port,
// and a stop that does not wait for a scraper's keep-alive connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { MetricsExporter, parseMetricsAddress } from '../../src/metrics/exporter';
import { rolodexMetrics } from '../../src/metrics/rolodex';
import type { RolodexStats } from '../../rolodex/server';
import { readPrometheusText, sampleValue } from './prometheus-text';

const STATS: RolodexStats = {
  networks: 2,
  members: 5,
  datagramsIn: 40,
  bytesIn: 1600,
  heartbeats: 38,
  joins: 6,
  forgotten: 1,
  datagramsOut: 30,
  bytesOut: 9000,
  throttled: 4,
  verifications: 3,
  catchingUp: 0,
  relayedFrames: 12,
  relayedBytes: 7000,
  drops: { not_json: 2, network_full: 1, relay_network_budget: 1 },
};

function request(url: string, options: http.RequestOptions = {}): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .request(url, options, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type']), body }));
      })
      .on('error', reject)
      .end();
  });
}

async function withExporter(body: (exporter: MetricsExporter) => Promise<void>): Promise<void> {
  const exporter = await MetricsExporter.listen({ host: '127.0.0.1', port: 0 }, rolodexMetrics(() => STATS));
  try {
    await body(exporter);
  } finally {
    await exporter.close();
  }
}

test('GET /metrics answers the rolodex counters in the Prometheus text format', async () => {
  await withExporter(async (exporter) => {
    const response = await request(exporter.url);
    assert.equal(response.status, 200);
    assert.match(response.type, /^text\/plain; version=0\.0\.4/);
    const families = readPrometheusText(response.body);
    assert.equal(sampleValue(families, 'meshboi_rolodex_heartbeats_total'), 38);
    assert.equal(sampleValue(families, 'meshboi_rolodex_members'), 5);
    assert.equal(sampleValue(families, 'meshboi_rolodex_dropped_datagrams_total', { reason: 'network_full' }), 1);
    assert.equal(sampleValue(families, 'meshboi_rolodex_throttled_datagrams_total'), 4);
    assert.equal(sampleValue(families, 'meshboi_rolodex_reachability_verifications_total'), 3);
    assert.equal(sampleValue(families, 'meshboi_rolodex_relayed_frames_total'), 12);
    assert.equal(sampleValue(families, 'meshboi_rolodex_relayed_bytes_total'), 7000);
  });
});

test('any other path is 404 and any other method 405', async () => {
  await withExporter(async (exporter) => {
    const base = `http://127.0.0.1:${exporter.address.port}`;
    assert.equal((await request(`${base}/`)).status, 404);
    assert.equal((await request(`${base}/metrics/extra`)).status, 404);
    assert.equal((await request(`${base}/metrics`, { method: 'POST' })).status, 405);
  });
});

test('a source that cannot report answers 503 with its reason', async () => {
  const failing = { contentType: 'text/plain', render: () => Promise.reject(new Error('the member is still starting')) };
  const exporter = await MetricsExporter.listen({ host: '127.0.0.1', port: 0 }, failing);
  try {
    const response = await request(exporter.url);
    assert.equal(response.status, 503);
    assert.match(response.body, /still starting/);
  } finally {
    await exporter.close();
  }
});

test('close ends a connection still sending its request instead of waiting for it', async () => {
  await withExporter(async (exporter) => {
    const socket = net.connect(exporter.address.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    // Being reset is the point: the exporter does not wait for the request to finish.
    socket.on('error', () => {});
    socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('close waited for the unfinished request')), 5000);
    });
    try {
      await Promise.race([Promise.all([exporter.close(), ended]), late]);
    } finally {
      clearTimeout(timer);
      socket.destroy();
    }
  });
});

test('a port already in use is refused with advice', async () => {
  await withExporter(async (exporter) => {
    await assert.rejects(
      MetricsExporter.listen(exporter.address, rolodexMetrics(() => STATS)),
      /cannot serve metrics on 127\.0\.0\.1:\d+ \(EADDRINUSE\); pick another --metrics-address/,
    );
  });
});

test('HOST:PORT accepts IPv4, bracketed IPv6 and names, and says what to give otherwise', () => {
  assert.deepEqual(parseMetricsAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseMetricsAddress('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseMetricsAddress('localhost:9100'), { host: 'localhost', port: 9100 });
  for (const bad of ['9464', ':9464', '::1:9464', '127.0.0.1:70000', '127.0.0.1:', 'host:port']) {
    assert.throws(() => parseMetricsAddress(bad), /is not HOST:PORT; give e\.g\. 127\.0\.0\.1:9464/, bad);
  }
});
