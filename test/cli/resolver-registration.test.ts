// Registering names with systemd-resolved: the resolvectl calls a member makes for its TUN link
// (checked against a stand-in resolvectl on PATH that records its arguments), and the hint it logs
// where resolvectl fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import winston from 'winston';
import { registerWithResolver } from '../../cmd/member-names';
import { LogCapture } from '../member/harness';

async function withResolvectl(script: string, body: (calls: () => string[]) => Promise<void>): Promise<void> {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'meshboi-resolvectl-'));
  const record = path.join(folder, 'calls');
  writeFileSync(path.join(folder, 'resolvectl'), `#!/bin/sh\necho "$*" >> ${record}\n${script}\n`);
  chmodSync(path.join(folder, 'resolvectl'), 0o755);
  const savedPath = process.env.PATH;
  process.env.PATH = `${folder}:${savedPath}`;
  try {
    await body(() => readFileSync(record, 'utf8').trim().split('\n'));
  } finally {
    process.env.PATH = savedPath;
    rmSync(folder, { recursive: true, force: true });
  }
}

function capturedLog(): { log: winston.Logger; capture: LogCapture } {
  const capture = new LogCapture();
  return { log: winston.createLogger({ transports: [capture] }), capture };
}

test('where systemd-resolved runs, the link gets our servers and routing-only domains', async () => {
  await withResolvectl('exit 0', async (calls) => {
    const { log, capture } = capturedLog();
    await registerWithResolver('tun', ['192.168.50.1', 'fd00:50::1'], ['home.meshboi', '50.168.192.in-addr.arpa'], log);
    assert.deepEqual(calls(), ['dns tun 192.168.50.1 fd00:50::1', 'domain tun ~home.meshboi ~50.168.192.in-addr.arpa', 'default-route tun false']);
    assert.equal(capture.count('registered names with systemd-resolved'), 1);
  });
});

test('where resolvectl fails, the member says how to point a resolver at it', async () => {
  await withResolvectl('echo "Failed to connect to bus" >&2; exit 1', async () => {
    const { log, capture } = capturedLog();
    await registerWithResolver('tun', ['192.168.50.1'], ['home.meshboi'], log);
    const hint = capture.lines.find((line) => /point a resolver at our name server/.test(String(line.message)));
    assert.ok(hint, JSON.stringify(capture.lines));
    assert.equal(hint.dnsmasq, 'server=/home.meshboi/192.168.50.1');
    assert.match(String(hint.reason), /Failed to connect to bus/);
  });
});
