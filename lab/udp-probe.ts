// A small UDP tool the lab runs inside namespaces with plain sockets: `echo` answers every datagram
// with the source address it saw, `ask` learns how NATs map one local port, `count` measures loss,
// `flood` sends junk. Results are printed as one JSON line.
import { setTimeout as sleep } from 'node:timers/promises';
import dgram from 'node:dgram';
import { randomBytes, randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';

interface Target {
  address: string;
  port: number;
}

function parseTarget(text: string): Target {
  const match = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text);
  if (!match) throw new Error(`target "${text}" is not usable: write it as a.b.c.d:port`);
  return { address: match[1], port: Number(match[2]) };
}

const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

function openSocket(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(port, '0.0.0.0', () => {
      socket.off('error', reject);
      // Room for bursts while a busy machine schedules this process late, so loss figures measure the link.
      socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
      resolve(socket);
    });
  });
}

/** Replies to each datagram with "<address>:<port>" of its sender, until killed. */
async function echo(port: number): Promise<void> {
  const socket = await openSocket(port);
  socket.on('message', (_data, remote) => socket.send(`${remote.address}:${remote.port}`, remote.port, remote.address));
  process.stdout.write(`${JSON.stringify({ listening: socket.address().port })}\n`);
}

/** From one local port, asks each echo target which source address it saw (3 tries of 500 ms each). */
async function ask(fromPort: number, targets: Target[]): Promise<void> {
  const socket = await openSocket(fromPort);
  const answers = new Map<string, string>();
  socket.on('message', (data, remote) => answers.set(`${remote.address}:${remote.port}`, data.toString('utf8')));
  for (let attempt = 0; attempt < 3 && answers.size < targets.length; attempt++) {
    for (const target of targets) {
      if (!answers.has(`${target.address}:${target.port}`)) socket.send('ask', target.port, target.address);
    }
    await sleep(500);
  }
  const localPort = socket.address().port;
  socket.close();
  const replies = targets.map((target) => {
    const key = `${target.address}:${target.port}`;
    return { target: key, observed: answers.get(key) ?? null };
  });
  process.stdout.write(`${JSON.stringify({ localPort, replies })}\n`);
}

/** Sends `total` datagrams to an echo target, paced, and counts the replies (the lab never duplicates a packet). */
async function count(target: Target, total: number): Promise<void> {
  const socket = await openSocket(0);
  let received = 0;
  socket.on('message', () => {
    received += 1;
  });
  for (let sent = 0; sent < total; sent++) {
    socket.send(String(sent), target.port, target.address);
    if (sent % 20 === 19) await sleep(10);
  }
  await sleep(1_000);
  socket.close();
  process.stdout.write(`${JSON.stringify({ sent: total, received })}\n`);
}

const DTLS_HANDSHAKE_HEADER = Buffer.from([22, 0xfe, 0xfd, 0, 0]);

/** One junk datagram: random bytes, a random body behind a DTLS handshake header, or a heartbeat for a random network. */
function junk(): Buffer {
  const kind = randomInt(3);
  if (kind === 0) return randomBytes(randomInt(1, 1_400));
  if (kind === 1) return Buffer.concat([DTLS_HANDSHAKE_HEADER, randomBytes(randomInt(8, 300))]);
  return Buffer.from(JSON.stringify({ NetworkName: `flood-${randomBytes(4).toString('hex')}` }));
}

/** Sends `total` junk datagrams from `sources` sockets at about `perSecond`. */
async function flood(target: Target, total: number, sources: number, perSecond: number): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: sources }, () => openSocket(0)));
  const burst = 100;
  const started = Date.now();
  for (let sent = 0; sent < total; sent++) {
    sockets[sent % sources].send(junk(), target.port, target.address);
    if (sent % burst === burst - 1) {
      const due = started + ((sent + 1) * 1_000) / perSecond;
      await sleep(Math.max(1, due - Date.now()));
    }
  }
  await sleep(100);
  for (const socket of sockets) socket.close();
  process.stdout.write(`${JSON.stringify({ sent: total, seconds: (Date.now() - started) / 1_000 })}\n`);
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '0' },
      'from-port': { type: 'string', default: '0' },
      to: { type: 'string', multiple: true, default: [] },
      count: { type: 'string', default: '1000' },
      sources: { type: 'string', default: '16' },
      'per-second': { type: 'string', default: '20000' },
    },
  });
  const targets = (values.to ?? []).map(parseTarget);
  const needTarget = (): Target => {
    if (targets.length === 0) throw new Error('give a target with --to a.b.c.d:port');
    return targets[0];
  };
  switch (positionals[0]) {
    case 'echo':
      return echo(Number(values.port));
    case 'ask':
      needTarget();
      return ask(Number(values['from-port']), targets);
    case 'count':
      return count(needTarget(), Number(values.count));
    case 'flood':
      return flood(needTarget(), Number(values.count), Number(values.sources), Number(values['per-second']));
    default:
      throw new Error(`unknown mode "${positionals[0] ?? ''}": use echo, ask, count or flood`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`udp-probe: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
