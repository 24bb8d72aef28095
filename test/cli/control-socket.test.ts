// The control socket: status and ping round trips over a real Unix socket, root-only permissions,
// stale sockets replaced, live ones refused, removal on close, and client errors that say what to do.
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { request, requestPing, requestStatus } from '../../src/control/client';
import { decodeRequest, decodeResponse, defaultControlSocketPath, LineBuffer } from '../../src/control/protocol';
import { ControlServer, type ControlHandlers } from '../../src/control/server';
import type { ProbeResult } from '../../src/member/probes';
import { STATUS_FIXTURE } from './status-fixture';

async function withTempDirectory(body: (directory: string) => Promise<void>): Promise<void> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'meshboi-control-'));
  try {
    await body(directory);
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

const PONG: ProbeResult = { vpnIp: '192.168.50.2', rttMs: 3, route: { kind: 'direct', endpoint: '10.1.0.6:41999' } };

/** A member whose one peer 192.168.50.2 answers probes after `delayMs`; any other address is unknown. */
function pingHandler(delayMs = 0): ControlHandlers['ping'] {
  return async (vpnIp) => {
    if (vpnIp !== PONG.vpnIp) throw new Error(`no peer has VPN IP ${vpnIp}`);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return PONG;
  };
}

const statusHandlers: ControlHandlers = { status: () => STATUS_FIXTURE, ping: pingHandler() };

/** Runs `body` against a server on a fresh socket path; `before` may leave something there first. */
async function withServer(
  body: (server: ControlServer) => Promise<void>,
  handlers: ControlHandlers = statusHandlers,
  before: (socketPath: string) => void = () => {},
): Promise<void> {
  await withTempDirectory(async (directory) => {
    const socketPath = path.join(directory, 'tun0.sock');
    before(socketPath);
    const server = await ControlServer.listen(socketPath, handlers);
    try {
      await body(server);
    } finally {
      await server.close();
    }
  });
}

test('status round-trips over the control socket unchanged', async () => {
  await withServer(async (server) => {
    assert.deepEqual(await requestStatus(server.path), STATUS_FIXTURE);
    assert.deepEqual(await requestStatus(server.path), STATUS_FIXTURE);
  });
});

test('a ping round-trips, and a refused one rejects with the member\'s message', async () => {
  await withServer(async (server) => {
    assert.deepEqual(await requestPing(server.path, '192.168.50.2'), PONG);
    await assert.rejects(requestPing(server.path, '192.168.50.9'), /refused: no peer has VPN IP 192\.168\.50\.9/);
  });
});

test('answers leave in the order the requests came, though a ping takes a while', async () => {
  await withServer(
    async (server) => {
      const client = net.connect(server.path);
      try {
        const lines = new LineBuffer(1 << 20);
        const received: string[] = [];
        client.on('data', (chunk: Buffer) => received.push(...(lines.push(chunk) ?? [])));
        client.write('{"method":"ping","vpnIp":"192.168.50.2"}\n{"method":"status"}\n');
        while (received.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
        assert.deepEqual(
          received.map((line) => decodeResponse(line)),
          [
            { ok: true, value: { ok: true, result: PONG } },
            { ok: true, value: { ok: true, result: STATUS_FIXTURE } },
          ],
        );
      } finally {
        client.destroy();
      }
    },
    { status: () => STATUS_FIXTURE, ping: pingHandler(50) },
  );
});

test('the socket is mode 0600 in a directory created 0700, and is removed on close', async () => {
  await withTempDirectory(async (directory) => {
    const socketPath = path.join(directory, 'run', 'meshboi', 'tun0.sock');
    const server = await ControlServer.listen(socketPath, statusHandlers);
    try {
      const socketStat = fs.lstatSync(socketPath);
      assert.ok(socketStat.isSocket());
      assert.equal(socketStat.mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.dirname(socketPath)).mode & 0o777, 0o700);
    } finally {
      await server.close();
    }
    assert.equal(fs.existsSync(socketPath), false);
    await server.close();
  });
});

test('a stale socket left by a crashed member is replaced', async () => {
  const crashedMember = (socketPath: string) => {
    const crash = `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`;
    assert.equal(spawnSync(process.execPath, ['-e', crash]).signal, 'SIGKILL');
    assert.ok(fs.lstatSync(socketPath).isSocket());
  };
  await withServer(
    async (server) => assert.equal((await requestStatus(server.path)).network, 'office'),
    statusHandlers,
    crashedMember,
  );
});

test('a socket a running member answers on is refused, and left alone', async () => {
  await withServer(async (running) => {
    await assert.rejects(ControlServer.listen(running.path, statusHandlers), /is in use by a running member; stop that member first/);
    assert.equal((await requestStatus(running.path)).vpnIp, '192.168.50.1');
  });
});

test('a file that is not a socket is never deleted', async () => {
  await withTempDirectory(async (directory) => {
    const socketPath = path.join(directory, 'tun0.sock');
    fs.writeFileSync(socketPath, 'precious');
    await assert.rejects(ControlServer.listen(socketPath, statusHandlers), /exists and is not a socket/);
    assert.equal(fs.readFileSync(socketPath, 'utf8'), 'precious');
  });
});

test('an error from the member reaches the client as a refusal with its message', async () => {
  const starting: ControlHandlers = {
    status() {
      throw new Error('the member is still starting; ask again in a moment');
    },
    ping: pingHandler(),
  };
  await withServer(async (server) => {
    await assert.rejects(requestStatus(server.path), /refused: the member is still starting/);
  }, starting);
});

test('bad requests get an error line and the connection stays usable', async () => {
  await withServer(async (server) => {
    const client = net.connect(server.path);
    try {
      const lines = new LineBuffer(1 << 20);
      const received: string[] = [];
      client.on('data', (chunk: Buffer) => received.push(...(lines.push(chunk) ?? [])));
      client.write('not json\n{"method":"reboot"}\n{"method":"status"}\n');
      while (received.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
      const answers = received.map((line) => decodeResponse(line));
      assert.deepEqual(answers[0], { ok: true, value: { ok: false, error: 'the request is not a JSON object' } });
      assert.match(JSON.stringify(answers[1]), /unknown method \\"reboot\\"/);
      assert.deepEqual(answers[2], { ok: true, value: { ok: true, result: STATUS_FIXTURE } });
    } finally {
      client.destroy();
    }
  });
});

test('a request line longer than the limit is answered with an error and the connection ends', async () => {
  await withServer(async (server) => {
    const client = net.connect(server.path);
    try {
      const chunks: Buffer[] = [];
      client.on('data', (chunk: Buffer) => chunks.push(chunk));
      const ended = new Promise((resolve) => client.on('end', resolve));
      client.write(Buffer.alloc(10_000, 0x61));
      await ended;
      assert.match(Buffer.concat(chunks).toString(), /request longer than 4096 bytes/);
    } finally {
      client.destroy();
    }
  });
});

test('the client says what to do when no member is there or the socket is stale', async () => {
  await withTempDirectory(async (directory) => {
    const missing = path.join(directory, 'tun9.sock');
    await assert.rejects(requestStatus(missing), /no member is running with this control socket; start `meshboi member`, or pick the member with --tun-name/);
    fs.writeFileSync(missing, '');
    await assert.rejects(request(missing, { method: 'status' }), /cannot talk to the member/);
  });
});

test('the default control socket is /run/meshboi/<tun-name>.sock', () => {
  assert.equal(defaultControlSocketPath('tun'), '/run/meshboi/tun.sock');
  assert.equal(defaultControlSocketPath('mesh0'), '/run/meshboi/mesh0.sock');
});

test('the request codec accepts status, and ping with the VPN IP to probe', () => {
  assert.deepEqual(decodeRequest('{"method":"status"}'), { ok: true, value: { method: 'status' } });
  assert.deepEqual(decodeRequest('{"method":"ping","vpnIp":"fd00::2"}'), { ok: true, value: { method: 'ping', vpnIp: 'fd00::2' } });
  assert.deepEqual(decodeRequest('{"method":"ping"}'), { ok: false, error: 'a ping request needs "vpnIp", the VPN IP of the peer to probe' });
  assert.equal(decodeRequest('[]').ok, false);
  assert.equal(decodeRequest('{"method":"stop"}').ok, false);
  assert.equal(decodeResponse('{"ok":true}').ok, false);
});

test('the line buffer joins chunks and refuses an endless line', () => {
  const lines = new LineBuffer(8);
  assert.deepEqual(lines.push(Buffer.from('ab')), []);
  assert.deepEqual(lines.push(Buffer.from('c\nde\nf')), ['abc', 'de']);
  assert.deepEqual(lines.push(Buffer.from('g\n')), ['fg']);
  assert.equal(lines.push(Buffer.from('123456789')), null);
  assert.equal(new LineBuffer(4).push(Buffer.from('12345\n')), null);
});
