// A small UDP tool the lab runs inside namespaces with plain sockets: `echo` answers every datagram
// with the source address it saw, `ask` learns how NATs map one local port, `count` measures loss,
// `flood` sends junk, `punch` tries one hole-punching technique toward a peer. Results are printed
// as one JSON line.
import { setTimeout as sleep } from 'node:timers/promises';
import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
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

/** From one local port, asks each echo target which source address it saw (3 tries of 500 ms each); `ttl` 0 keeps the default. */
async function ask(fromPort: number, targets: Target[], ttl: number): Promise<void> {
  const socket = await openSocket(fromPort);
  if (ttl > 0) socket.setTTL(ttl);
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

export interface PunchPlan {
  /** The peer's outside endpoint as the rendezvous saw it, "a.b.c.d:port". */
  peer: string;
  /** Epoch ms at which this side starts (both sides' plans come from one clock, the lab's). */
  startAt: number;
}

export interface PunchOptions {
  /** TTL of one packet sent first, to open our NAT without reaching the peer's; 0 sends none. */
  firstTtl: number;
  /** Milliseconds between that packet and the first full-TTL one. */
  waitMs: number;
  /** Milliseconds between full-TTL sends; 0 sends one only. */
  intervalMs: number;
  /** When not connected after this many ms of full-TTL sending, stay silent for `quietMs`, then start over; 0 never. */
  quietAfterMs: number;
  quietMs: number;
  giveUpMs: number;
}

const DEFAULT_TTL = 64;
// Once connected, keep answering a while so the peer hears that we heard it.
const LINGER_MS = 1_500;

/**
 * Registers with a rendezvous echo (learning our outside endpoint, printed for the lab to pass on),
 * reads the peer's endpoint and start time from `planFile` once it appears, then punches: every
 * datagram says whether we have heard the peer, and any datagram from the peer's address (at any
 * port, as a peer-reflexive candidate) is answered. Connected once the peer says it heard us.
 */
async function punch(port: number, rendezvous: Target, planFile: string, options: PunchOptions): Promise<void> {
  const socket = await openSocket(port);
  let registered: string | null = null;
  socket.on('message', (data, remote) => {
    if (remote.address === rendezvous.address && remote.port === rendezvous.port) registered = data.toString('utf8');
  });
  for (let attempt = 0; attempt < 10 && registered === null; attempt++) {
    socket.send('ask', rendezvous.port, rendezvous.address);
    await sleep(300);
  }
  if (registered === null) throw new Error(`no answer from the rendezvous ${rendezvous.address}:${rendezvous.port}`);
  process.stdout.write(`${JSON.stringify({ registered })}\n`);
  while (!existsSync(planFile)) await sleep(10);
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as PunchPlan;
  const peer = parseTarget(plan.peer);
  await sleep(Math.max(0, plan.startAt - Date.now()));
  const started = Date.now();
  let heardFrom: string | null = null;
  let connectedMs: number | null = null;
  let sent = 0;
  let lowTtlSent = 0;
  const say = (to: Target): void => {
    sent += 1;
    socket.send(heardFrom === null ? 'punch 0' : 'punch 1', to.port, to.address);
  };
  socket.on('message', (data, remote) => {
    if (remote.address !== peer.address) return;
    heardFrom ??= `${remote.address}:${remote.port}`;
    // Answer a peer that has not heard us yet, and once more when we first learn it has: never a ping-pong.
    const peerHeardUs = data.toString('utf8') === 'punch 1';
    if (peerHeardUs && connectedMs !== null) return;
    if (peerHeardUs) connectedMs = Date.now() - started;
    say({ address: remote.address, port: remote.port });
  });
  const sendLowTtl = async (): Promise<void> => {
    socket.setTTL(options.firstTtl);
    await new Promise<void>((resolve) => socket.send('punch 0', peer.port, peer.address, () => resolve()));
    socket.setTTL(DEFAULT_TTL);
    lowTtlSent += 1;
  };
  const deadline = started + options.giveUpMs;
  const until = async (time: number): Promise<void> => {
    while (connectedMs === null && Date.now() < Math.min(time, deadline)) await sleep(Math.min(20, Math.min(time, deadline) - Date.now()));
  };
  let rounds = 0;
  while (connectedMs === null && Date.now() < deadline) {
    rounds += 1;
    if (options.firstTtl > 0) {
      await sendLowTtl();
      await until(Date.now() + options.waitMs);
    }
    const roundEnd = options.quietAfterMs > 0 ? Date.now() + options.quietAfterMs : deadline;
    while (connectedMs === null && Date.now() < Math.min(roundEnd, deadline)) {
      say(peer);
      if (options.intervalMs === 0) break;
      await until(Date.now() + options.intervalMs);
    }
    await until(options.quietAfterMs > 0 ? roundEnd + options.quietMs : deadline);
  }
  if (connectedMs !== null) await sleep(LINGER_MS);
  socket.close();
  process.stdout.write(`${JSON.stringify({ connected: connectedMs !== null, connectedMs, heardFrom, sent, lowTtlSent, rounds })}\n`);
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
      ttl: { type: 'string', default: '0' },
      rendezvous: { type: 'string' },
      'plan-file': { type: 'string' },
      'first-ttl': { type: 'string', default: '0' },
      'wait-ms': { type: 'string', default: '0' },
      'interval-ms': { type: 'string', default: '0' },
      'quiet-after-ms': { type: 'string', default: '0' },
      'quiet-ms': { type: 'string', default: '0' },
      'give-up-ms': { type: 'string', default: '10000' },
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
      return ask(Number(values['from-port']), targets, Number(values.ttl));
    case 'count':
      return count(needTarget(), Number(values.count));
    case 'flood':
      return flood(needTarget(), Number(values.count), Number(values.sources), Number(values['per-second']));
    case 'punch':
      if (values.rendezvous === undefined || values['plan-file'] === undefined) throw new Error('punch needs --rendezvous a.b.c.d:port and --plan-file path');
      return punch(Number(values.port), parseTarget(values.rendezvous), values['plan-file'], {
        firstTtl: Number(values['first-ttl']),
        waitMs: Number(values['wait-ms']),
        intervalMs: Number(values['interval-ms']),
        quietAfterMs: Number(values['quiet-after-ms']),
        quietMs: Number(values['quiet-ms']),
        giveUpMs: Number(values['give-up-ms']),
      });
    default:
      throw new Error(`unknown mode "${positionals[0] ?? ''}": use echo, ask, count, flood or punch`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`udp-probe: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
