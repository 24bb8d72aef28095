// Black-box tests of the real `meshboi rolodex` process on loopback, spoken to with plain UDP
// sockets exactly as an original member would: JSON heartbeats in, JSON maps out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import { decodeMap, encodeHeartbeat, type NetworkMap } from '../../src/rolodex-wire';
import { decodeRolodexFrame, encodeRolodexFrame, isRolodexFrame, type RolodexFrame } from '../../src/relay/rolodex-frame';
import { formatEndpoint } from '../../src/net/transport';
import { childEnvironment, MESHBOI_CLI, startRolodexProcess, type RolodexProcess } from './rolodex-process';
import { eventually, sleep } from '../support/wait';

/** An original member's rolodex side: one UDP socket, `{"NetworkName":...}` heartbeats, maps kept. */
class OriginalMember {
  readonly raw: Buffer[] = [];
  readonly maps: NetworkMap[] = [];
  readonly known = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  private constructor(readonly socket: dgram.Socket, private readonly rolodexPort: number, private readonly rolodexHost: string) {
    socket.on('message', (data) => {
      this.raw.push(data);
      const decoded = decodeMap(data);
      if (!decoded.ok) throw new Error(`the rolodex sent an invalid map: ${decoded.error.message}`);
      this.maps.push(decoded.value);
      for (const endpoint of decoded.value.addresses) this.known.add(formatEndpoint(endpoint));
    });
  }

  static async open(rolodexPort: number, host = '127.0.0.1'): Promise<OriginalMember> {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    return new OriginalMember(socket, rolodexPort, host);
  }

  get key(): string {
    const { address, port } = this.socket.address();
    return formatEndpoint({ address, port });
  }

  send(data: string | Buffer): void {
    this.socket.send(data, this.rolodexPort, this.rolodexHost);
  }

  heartbeat(networkName = 'testnetwork'): void {
    this.send(JSON.stringify({ NetworkName: networkName }));
  }

  /** Heartbeats now and then every `everyMs`, as an original member does every 5 s. */
  keepHeartbeating(everyMs: number, networkName = 'testnetwork'): void {
    this.heartbeat(networkName);
    this.timer = setInterval(() => this.heartbeat(networkName), everyMs);
  }

  lastMap(): NetworkMap | undefined {
    return this.maps[this.maps.length - 1];
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.socket.close();
  }
}

/** Runs `body` against a fresh rolodex process and members it opens, closing all of them after. */
async function withRolodex(
  args: string[],
  body: (rolodex: RolodexProcess, member: (host?: string) => Promise<OriginalMember>) => Promise<void>,
  listenAddress?: string,
): Promise<void> {
  const rolodex = await startRolodexProcess(args, listenAddress);
  const members: OriginalMember[] = [];
  try {
    await body(rolodex, async (host) => {
      const member = await OriginalMember.open(rolodex.port, host);
      members.push(member);
      return member;
    });
  } finally {
    for (const member of members) member.close();
    await rolodex.stop();
  }
}

test('an original member gets a map in the original bytes, naming it at YourIndex, every interval', async () => {
  await withRolodex(['--map-interval', '0.2'], async (_rolodex, member) => {
    const alone = await member();
    alone.heartbeat();
    await eventually('three maps', () => alone.raw.length >= 3);
    assert.equal(alone.raw[0].toString(), `{"Addresses":["${alone.key}"],"YourIndex":0}`);
    assert.equal(alone.raw[2].toString(), alone.raw[0].toString());
  });
});

test('a second member joining sends both members a map at once', async () => {
  await withRolodex(['--map-interval', '60'], async (_rolodex, member) => {
    const first = await member();
    const second = await member();
    first.heartbeat();
    await eventually('the first map', () => first.maps.length === 1);
    const joinedAt = Date.now();
    second.heartbeat();
    // Far sooner than the 60 s interval, with room for a loaded machine.
    await eventually('both to know both', () => first.known.has(second.key) && second.known.has(first.key), 10_000);
    assert.ok(Date.now() - joinedAt < 10_000);
    for (const recipient of [first, second]) {
      const map = recipient.lastMap() as NetworkMap;
      assert.deepEqual(map.addresses.map(formatEndpoint).sort(), [first.key, second.key].sort());
      assert.equal(formatEndpoint(map.addresses[map.yourIndex]), recipient.key);
    }
  });
});

test('a member silent for the forget timeout disappears from the others maps', async () => {
  await withRolodex(['--map-interval', '0.2', '--forget-after', '1'], async (_rolodex, member) => {
    const stayer = await member();
    const leaver = await member();
    stayer.keepHeartbeating(200);
    leaver.heartbeat();
    await eventually('the stayer to see the leaver', () => stayer.known.has(leaver.key));
    const seenAt = Date.now();
    await eventually('maps without the leaver', () => {
      const map = stayer.lastMap() as NetworkMap;
      return map.addresses.length === 1 && formatEndpoint(map.addresses[0]) === stayer.key;
    }, 5000);
    assert.ok(Date.now() - seenAt >= 700, 'not forgotten before the timeout');
    assert.ok(stayer.raw.every((datagram) => !datagram.includes('Meshboi')), 'no extension for an original member');
  });
});

test('junk, oversized and wrongly typed datagrams and a flood leave the rolodex serving', async () => {
  await withRolodex(['--map-interval', '60', '--summary-interval', '0'], async (rolodex, member) => {
    const attacker = await member();
    const junk = [
      'hello',
      '',
      '{"NetworkName":',
      '[]',
      'null',
      '{"NetworkName":42}',
      '{"NetworkName":""}',
      '{"NetworkName":"x","Meshboi":{"V":"one"}}',
      `{"NetworkName":"${'n'.repeat(1000)}"}`,
      Buffer.alloc(65_000, 0x7b),
      Buffer.from([0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
    ];
    for (const datagram of junk) attacker.send(datagram);
    for (let i = 0; i < 20_000; i++) {
      attacker.send(`{"Net${i}`);
      if (i % 1000 === 0) await sleep(1);
    }
    const honest = await member();
    // Like a member, it heartbeats again: the first may meet a socket buffer still full of junk.
    honest.keepHeartbeating(500);
    await eventually('a map for the honest member', () => honest.maps.length > 0, 10_000);
    assert.equal(attacker.raw.length, 0, 'junk is never answered');
    assert.equal(await rolodex.stop(), 0);
    const stopping = rolodex.lines.find((line) => line.message === 'stopping') as { drops: Record<string, number> };
    assert.ok(stopping.drops.not_json > 1000, JSON.stringify(stopping.drops));
    assert.ok(stopping.drops.too_large >= 1 && stopping.drops.not_object >= 2 && stopping.drops.bad_field >= 3, JSON.stringify(stopping.drops));
  });
});

test('members of a network too large for one datagram each learn all the others from split maps', async () => {
  await withRolodex(['--map-interval', '60', '--send-burst', '100000000'], async (_rolodex, member) => {
    const members = await Promise.all(Array.from({ length: 120 }, () => member()));
    for (const each of members) each.heartbeat();
    const everyone = members.map((each) => each.key).sort();
    await eventually('everyone to know everyone', () => members.every((each) => each.known.size === members.length), 15_000);
    for (const each of members) {
      assert.deepEqual([...each.known].sort(), everyone);
      assert.ok(each.raw.every((datagram) => datagram.length <= 1200));
      assert.ok(each.maps.every((map) => formatEndpoint(map.addresses[map.yourIndex]) === each.key));
    }
    assert.ok(members[0].maps.length > 1, 'the map was split');
  });
});

test('the bytes sent to one IP address stay within the send budget', async () => {
  const rate = 3000;
  const burst = 6000;
  const args = ['--map-interval', '0.1', '--send-budget', String(rate), '--send-burst', String(burst)];
  await withRolodex(args, async (_rolodex, member) => {
    const members = await Promise.all(Array.from({ length: 60 }, () => member()));
    const started = Date.now();
    for (const each of members) each.keepHeartbeating(500);
    await sleep(2000);
    const elapsed = (Date.now() - started) / 1000;
    const received = members.reduce((sum, each) => sum + each.raw.reduce((bytes, datagram) => bytes + datagram.length, 0), 0);
    assert.ok(received <= burst + rate * elapsed, `${received} bytes in ${elapsed.toFixed(2)} s`);
    assert.ok(received >= burst, `the budget is used (${received} bytes)`);
  });
});

async function ipv6Loopback(): Promise<boolean> {
  const socket = dgram.createSocket('udp6');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '::1', resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    socket.close();
  }
}

test('with --listen-address :: it serves IPv6 and IPv4 members in one network', async (t) => {
  if (!(await ipv6Loopback())) {
    t.skip('no IPv6 loopback (::1) on this machine');
    return;
  }
  await withRolodex(
    ['--map-interval', '60'],
    async (rolodex, member) => {
      const v4 = await OriginalMember.open(rolodex.port, '127.0.0.1');
      const v6 = await member('::1');
      try {
        v4.heartbeat();
        v6.heartbeat();
        await eventually('both to know both', () => v4.known.has(v6.key) && v6.known.has(v4.key));
        assert.match(v6.key, /^\[::1\]:\d+$/);
        assert.match(v4.key, /^127\.0\.0\.1:\d+$/);
      } finally {
        v4.close();
      }
    },
    '::',
  );
});

test('SIGINT and SIGTERM stop the rolodex cleanly', async () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const rolodex = await startRolodexProcess([]);
    assert.equal(await rolodex.stop(signal), 0, signal);
    assert.ok(rolodex.lines.some((line) => line.message === 'stopping' && line.signal === signal));
  }
});

function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MESHBOI_CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: childEnvironment() });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

test('with --relay it relays a frame between two members of ours that echoed their cookies', async () => {
  const rolodex = await startRolodexProcess(['--relay', '--relay-endpoint-budget', '4096', '--map-interval', '0.2']);
  const sockets: dgram.Socket[] = [];
  try {
    const members = await Promise.all(
      [0, 1].map(async () => {
        const socket = dgram.createSocket('udp4');
        sockets.push(socket);
        await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
        const member = { socket, cookie: undefined as string | undefined, relays: false, frames: [] as RolodexFrame[] };
        socket.on('message', (data) => {
          if (isRolodexFrame(data)) return member.frames.push(decodeRolodexFrame(data));
          const map = decodeMap(data);
          if (map.ok && map.value.cookie !== undefined) [member.cookie, member.relays] = [map.value.cookie, map.value.relay === true];
        });
        return member;
      }),
    );
    const beat = (member: (typeof members)[number]): void => {
      const heartbeat = encodeHeartbeat({ networkName: 'relayed', local: [], meshboi: true, relay: true, ...(member.cookie ? { cookie: member.cookie } : {}) });
      member.socket.send(heartbeat, rolodex.port, '127.0.0.1');
    };
    await eventually('both members to get a cookie that says the rolodex relays', () => {
      members.forEach(beat);
      return members.every((member) => member.cookie !== undefined && member.relays);
    });
    members.forEach(beat);
    const [a, b] = members;
    const to = { address: '127.0.0.1', port: b.socket.address().port };
    await eventually('a frame relayed from a to b', () => {
      a.socket.send(encodeRolodexFrame({ type: 'forward', cookie: Buffer.from(a.cookie!, 'base64url'), peer: to, payload: Buffer.from('record') }), rolodex.port, '127.0.0.1');
      return b.frames.length > 0;
    });
    assert.deepEqual(b.frames[0], { type: 'deliver', peer: { address: '127.0.0.1', port: a.socket.address().port }, payload: Buffer.from('record') });
  } finally {
    for (const socket of sockets) socket.close();
    await rolodex.stop();
  }
});

test('an unusable flag or a busy port ends the rolodex with a clear error', async () => {
  const bad = await runCli(['rolodex', '--max-networks', '0']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--max-networks must be a whole number of at least 1/);
  const small = await runCli(['rolodex', '--relay', '--relay-network-budget', '1000']);
  assert.equal(small.code, 1);
  assert.match(small.stderr, /--relay-network-budget must be a whole number of at least 2048/);
  const rolodex = await startRolodexProcess([]);
  try {
    const busy = await runCli(['rolodex', '--listen-address', '127.0.0.1', '--listen-port', String(rolodex.port)]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /cannot listen on 127\.0\.0\.1 port \d+ .*pick another --listen-address or --listen-port/);
  } finally {
    await rolodex.stop();
  }
});
