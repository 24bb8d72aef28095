// A seeded mutation fuzzer for the DTLS engine: mutates captured and freshly sealed datagrams and
// handshake messages, feeds them to every parser, and records anything that throws or breaks an invariant.
// Same seed, same inputs: a failure names its seed and iteration so it can be replayed.
import { createHash } from 'node:crypto';
import type { CipherSuiteId, CloseReason, HandshakeInfo, SessionEvents } from '../../src/dtls/api';
import { CIPHER_SUITES, type CipherSuite } from '../../src/dtls/cipher/suites';
import { handshakeDecoders } from '../../src/dtls/handshake/decoders';
import { CookieGate, DtlsSession, looksLikeClientHello } from '../../src/dtls/index';
import { expandKeyBlock } from '../../src/dtls/prf';
import {
  ContentType,
  MAX_PLAINTEXT_LENGTH,
  RECORD_HEADER_LENGTH,
  splitRecords,
  type ContentType as ContentTypeValue,
} from '../../src/dtls/record/header';
import { RecordLayer, type RecordReceiver } from '../../src/dtls/record/record-layer';
import { capturedDtlsDatagrams, loadOriginalSession } from '../vectors/original-session';

export interface FuzzOptions {
  seed: number;
  iterations: number;
  /** Stop after this many failures (each one is reported with its input). */
  maxFailures?: number;
  /** Called every `progressEvery` inputs, for a watchdog that detects hangs. */
  onProgress?: (iteration: number) => void;
  progressEvery?: number;
}

export interface FuzzFailure {
  target: string;
  iteration: number;
  message: string;
  inputHex: string;
}

export interface FuzzReport {
  seed: number;
  iterations: number;
  inputsPerTarget: Record<string, number>;
  /** Records that the established record layers accepted: proof the mutations reach deep paths. */
  authenticatedRecords: number;
  /**
   * SHA-256 over every input, in order, except those cut from live sessions' records (their keys
   * come from fresh handshake randoms): equal for equal seeds.
   */
  inputDigest: string;
  failures: FuzzFailure[];
}

/** mulberry32: small, fast and good enough to spread mutations; deterministic per seed. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  below(limit: number): number {
    return Math.floor(this.next() * limit);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.below(256);
    return out;
  }
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0xfd, 20, 21, 22, 23, 24];
const INTERESTING_16 = [0, 1, 12, 13, 0x00ff, 0x0100, 0x3fff, 0x4000, 0x4800, 0x4801, 0x7fff, 0x8000, 0xfffe, 0xffff];

/** One structural change to `input`; several are stacked per fuzz input. */
function mutateOnce(input: Buffer, random: SeededRandom, corpus: readonly Buffer[]): Buffer {
  const length = input.length;
  const at = length > 0 ? random.below(length) : 0;
  switch (random.below(11)) {
    case 0: {
      const out = Buffer.from(input);
      if (length > 0) out[at] = out[at]! ^ (1 << random.below(8));
      return out;
    }
    case 1: {
      const out = Buffer.from(input);
      if (length > 0) out[at] = random.pick(INTERESTING_BYTES);
      return out;
    }
    case 2: {
      const out = Buffer.from(input);
      if (length >= 2) out.writeUInt16BE(random.pick(INTERESTING_16), random.below(length - 1));
      return out;
    }
    case 3:
      return input.subarray(0, random.below(length + 1));
    case 4:
      return input.subarray(random.below(length + 1));
    case 5: {
      const cut = random.below(length + 1);
      return Buffer.concat([input.subarray(0, cut), input.subarray(Math.min(length, cut + 1 + random.below(16)))]);
    }
    case 6:
      return Buffer.concat([input.subarray(0, at), random.bytes(1 + random.below(16)), input.subarray(at)]);
    case 7: {
      const start = random.below(length + 1);
      const piece = input.subarray(start, start + random.below(64));
      return Buffer.concat([input.subarray(0, at), piece, input.subarray(at)]);
    }
    case 8: {
      const other = random.pick(corpus);
      return Buffer.concat([input.subarray(0, at), other.subarray(random.below(other.length + 1))]);
    }
    case 9:
      return Buffer.concat([input, random.pick(corpus)]);
    default: {
      // Lengths are what parsers trust most: aim a 24-bit value at a random spot.
      const out = Buffer.from(input);
      if (length >= 3) out.writeUIntBE(random.below(2) === 0 ? random.below(0x1000000) : random.below(64), random.below(length - 2), 3);
      return out;
    }
  }
}

function mutate(input: Buffer, random: SeededRandom, corpus: readonly Buffer[]): Buffer {
  if (random.below(50) === 0) return random.bytes(random.below(1500));
  let out = input;
  const rounds = 1 + random.below(4);
  for (let i = 0; i < rounds; i++) out = mutateOnce(out, random, corpus);
  return out;
}

class CheckingReceiver implements RecordReceiver {
  /** Plaintexts the sender really sealed: anything else delivered from an epoch > 0 is a forgery. */
  readonly sealed = new Set<string>();
  violation: string | null = null;
  authenticated = 0;

  onRecord(contentType: ContentTypeValue, epoch: number, payload: Buffer): void {
    if (payload.length > MAX_PLAINTEXT_LENGTH) this.violation = `delivered ${payload.length} bytes, more than 2^14`;
    if (contentType < ContentType.changeCipherSpec || contentType > ContentType.applicationData) {
      this.violation = `delivered content type ${contentType}`;
    }
    if (epoch === 0 && contentType === ContentType.applicationData) this.violation = 'delivered application data from epoch 0';
    if (epoch > 0) {
      this.authenticated++;
      if (!this.sealed.has(`${contentType}:${payload.toString('hex')}`)) this.violation = 'delivered a record nobody sealed';
    }
  }
}

interface EstablishedTarget {
  name: string;
  layer: RecordLayer;
  receiver: CheckingReceiver;
  records: Buffer[];
}

function establishedTarget(suite: CipherSuite, random: SeededRandom): EstablishedTarget {
  const keys = expandKeyBlock(suite, random.bytes(48), random.bytes(32), random.bytes(32));
  const receiver = new CheckingReceiver();
  const sender = new RecordLayer({ onRecord: () => undefined });
  const layer = new RecordLayer(receiver);
  sender.setPendingKeys(suite, keys, 'client');
  layer.setPendingKeys(suite, keys, 'server');
  sender.activateWrite();
  layer.activateRead();
  const records: Buffer[] = [];
  const types = [ContentType.applicationData, ContentType.handshake, ContentType.alert, ContentType.applicationData] as const;
  for (let i = 0; i < 48; i++) {
    const contentType = types[i % types.length]!;
    const payload = Buffer.from(`record ${i} `.repeat(1 + (i % 7) * 9));
    receiver.sealed.add(`${contentType}:${payload.toString('hex')}`);
    records.push(sender.seal(contentType, payload));
  }
  // Some datagrams with several records, as a flight or a batch of packets would arrive.
  for (let i = 0; i + 2 < 24; i += 3) records.push(Buffer.concat(records.slice(i, i + 3)));
  return { name: `record layer (${suite.name})`, layer, receiver, records };
}

/**
 * DtlsSession.handleDatagram never throws: it catches internal errors and logs them. The fuzzer
 * wants to see those, so it reads the error lines the session writes to stderr while it is fed.
 */
class InternalErrorTap {
  readonly lines: string[] = [];
  private readonly original = process.stderr.write;

  start(): void {
    const lines = this.lines;
    const original = this.original;
    process.stderr.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      const text = String(chunk);
      if (text.includes('internal error')) {
        lines.push(text.trim());
        return true;
      }
      return original.call(this, chunk as string, ...(rest as [BufferEncoding, () => void]));
    } as typeof process.stderr.write;
  }

  stop(): void {
    process.stderr.write = this.original;
  }
}

/** A session fed mutated datagrams; replaced every few inputs so early handshake states stay covered. */
class SessionTarget {
  private session: DtlsSession | null = null;
  private fed = 0;
  readonly sent: Buffer[] = [];

  constructor(readonly role: 'client' | 'server', private readonly psk: Buffer) {}

  feed(datagram: Buffer): void {
    if (this.session === null || this.fed >= 16) this.renew();
    this.fed++;
    this.session!.handleDatagram(datagram);
    this.sent.length = 0;
  }

  close(): void {
    this.session?.abort();
    this.session = null;
  }

  private renew(): void {
    this.close();
    const events = {
      onHandshakeComplete: (_info: HandshakeInfo): void => undefined,
      onData: (_plaintext: Buffer): void => undefined,
      onClose: (_reason: CloseReason): void => undefined,
    };
    this.session = new DtlsSession(
      { role: this.role, psk: this.psk, identity: '192.168.50.9', send: (datagram) => this.sent.push(datagram) },
      events,
    );
    this.session.start();
    this.fed = 0;
  }
}

/**
 * A client and a server session that completed a real handshake, wired back to back through a
 * synchronous queue. The server then gets mutated copies of the client's records: it must stay
 * established, deliver only what the client sent, and still deliver a fresh record afterwards.
 */
class EstablishedSessions implements SessionEvents {
  readonly client: DtlsSession;
  readonly server: DtlsSession;
  readonly sentRecords: Buffer[] = [];
  private readonly sentPayloads = new Set<string>();
  private readonly queue: Array<{ to: DtlsSession; datagram: Buffer }> = [];
  private capturing = false;
  violation: string | null = null;
  lastDelivered: string | null = null;

  constructor(readonly suite: CipherSuite, psk: Buffer) {
    const silent: SessionEvents = { onHandshakeComplete: () => undefined, onData: () => undefined, onClose: () => undefined };
    const cipherSuites: readonly CipherSuiteId[] = [suite.id];
    this.client = new DtlsSession(
      { role: 'client', psk, identity: '192.168.50.1', cipherSuites, send: (datagram) => this.sendFromClient(datagram) },
      silent,
    );
    this.server = new DtlsSession(
      { role: 'server', psk, identity: '192.168.50.2', cipherSuites, send: (datagram) => this.queue.push({ to: this.client, datagram }) },
      this,
    );
    this.client.start();
    this.pump();
    if (this.client.state !== 'established' || this.server.state !== 'established') {
      throw new Error(`the fuzzer's ${suite.name} sessions did not establish (client ${this.client.state}, server ${this.server.state})`);
    }
    for (let i = 0; i < 24; i++) this.clientSends(Buffer.from(`packet ${i} `.repeat(1 + (i % 5) * 20)));
  }

  /** Seals one record on the client and returns it undelivered (the server gets it only when fed). */
  clientSends(payload: Buffer): Buffer {
    this.sentPayloads.add(payload.toString('hex'));
    this.capturing = true;
    this.client.send(payload);
    this.capturing = false;
    return this.sentRecords.at(-1)!;
  }

  onHandshakeComplete(): void {}

  onData(plaintext: Buffer): void {
    this.lastDelivered = plaintext.toString('hex');
    if (!this.sentPayloads.has(this.lastDelivered)) this.violation = 'the server delivered data the client never sent';
  }

  onClose(reason: CloseReason): void {
    this.violation = `the server closed: ${JSON.stringify(reason)}`;
  }

  close(): void {
    this.client.abort();
    this.server.abort();
  }

  private sendFromClient(datagram: Buffer): void {
    if (this.capturing) this.sentRecords.push(Buffer.from(datagram));
    else this.queue.push({ to: this.server, datagram });
  }

  private pump(): void {
    for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) next.to.handleDatagram(next.datagram);
  }
}

/** Handshake message bodies from the capture, by handshake type, for the decoders' seeds. */
function capturedHandshakeBodies(datagrams: readonly Buffer[]): { fragments: Buffer[]; bodies: Map<number, Buffer[]> } {
  const fragments: Buffer[] = [];
  const bodies = new Map<number, Buffer[]>();
  for (const datagram of datagrams) {
    for (const record of splitRecords(datagram).records) {
      if (record.header.contentType !== ContentType.handshake || record.header.epoch !== 0) continue;
      fragments.push(Buffer.from(record.fragment));
      let offset = 0;
      while (offset + 12 <= record.fragment.length) {
        const length = record.fragment.readUIntBE(offset + 9, 3);
        const body = Buffer.from(record.fragment.subarray(offset + 12, offset + 12 + length));
        const type = record.fragment[offset]!;
        bodies.set(type, [...(bodies.get(type) ?? []), body]);
        offset += 12 + length;
      }
    }
  }
  return { fragments, bodies };
}

const DECODER_TYPES: Record<string, number> = {
  ClientHello: 1,
  ServerHello: 2,
  HelloVerifyRequest: 3,
  'ServerKeyExchange (PSK)': 12,
  'ServerKeyExchange (ECDHE_PSK)': 12,
  ServerHelloDone: 14,
  'ClientKeyExchange (PSK)': 16,
  'ClientKeyExchange (ECDHE_PSK)': 16,
};

export function runDtlsFuzz(options: FuzzOptions): FuzzReport {
  const random = new SeededRandom(options.seed);
  const maxFailures = options.maxFailures ?? 20;
  const progressEvery = options.progressEvery ?? 1000;
  const capture = loadOriginalSession();
  const captured = capturedDtlsDatagrams(capture);
  const clientAddress = Object.keys(capture.members).find((address) => capture.members[address]!.dtls_role.startsWith('client'));
  const fromClient = captured.filter((datagram) => datagram.from === clientAddress).map((datagram) => datagram.bytes);
  const fromServer = captured.filter((datagram) => datagram.from !== clientAddress).map((datagram) => datagram.bytes);
  const established = CIPHER_SUITES.map((suite) => establishedTarget(suite, random));
  const { fragments, bodies } = capturedHandshakeBodies(captured.map((datagram) => datagram.bytes));
  const allBodies = [...bodies.values()].flat();
  const datagramCorpus = [...captured.map((datagram) => datagram.bytes), ...established.flatMap((target) => target.records)];
  const psk = Buffer.from(capture.pskText, 'utf8');
  const server = new SessionTarget('server', psk);
  const client = new SessionTarget('client', psk);
  const gate = new CookieGate(Buffer.alloc(32, 1));
  const tap = new InternalErrorTap();
  tap.start();
  const sessionPairs = CIPHER_SUITES.map((suite) => new EstablishedSessions(suite, psk));

  const report: FuzzReport = { seed: options.seed, iterations: 0, inputsPerTarget: {}, authenticatedRecords: 0, inputDigest: '', failures: [] };
  const digest = createHash('sha256');
  const run = (target: string, input: Buffer, action: (input: Buffer) => string | null, reproducible = true): void => {
    if (reproducible) digest.update(input);
    report.inputsPerTarget[target] = (report.inputsPerTarget[target] ?? 0) + 1;
    let problem: string | null;
    try {
      problem = action(input);
    } catch (error) {
      problem = `threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
    }
    if (problem !== null) {
      report.failures.push({ target, iteration: report.iterations, message: problem, inputHex: input.toString('hex') });
    }
  };

  try {
    for (let iteration = 0; iteration < options.iterations && report.failures.length < maxFailures; iteration++) {
      report.iterations = iteration + 1;
      if (options.onProgress && iteration % progressEvery === 0) options.onProgress(iteration);
      const choice = random.below(100);
      if (choice < 15) {
        run('record splitter', mutate(random.pick(datagramCorpus), random, datagramCorpus), (input) => {
          const { records, error } = splitRecords(input);
          const covered = records.reduce((sum, record) => sum + RECORD_HEADER_LENGTH + record.header.length, 0);
          if (error === null && covered !== input.length) return `records cover ${covered} of ${input.length} bytes without an error`;
          if (error !== null && covered >= input.length) return `error ${error.reason} reported after every byte was used`;
          return null;
        });
      } else if (choice < 25) {
        run('record layer (epoch 0)', mutate(random.pick(datagramCorpus), random, datagramCorpus), (input) => {
          const receiver = new CheckingReceiver();
          new RecordLayer(receiver).openDatagram(Buffer.from(input));
          return receiver.violation;
        });
      } else if (choice < 55) {
        const target = random.pick(established);
        run(target.name, mutate(random.pick(target.records), random, datagramCorpus), (input) => {
          target.receiver.violation = null;
          // A copy: the layer decrypts in place, and the report must show the input as it came.
          target.layer.openDatagram(Buffer.from(input));
          return target.receiver.violation;
        });
      } else if (choice < 80) {
        const decoder = random.pick(handshakeDecoders);
        const type = DECODER_TYPES[decoder.name];
        const seeds = decoder.name === 'handshake fragments' ? fragments : (type !== undefined && bodies.get(type)) || allBodies;
        run(`handshake decoder: ${decoder.name}`, mutate(random.pick(seeds), random, allBodies), (input) => {
          const decoded = decoder.decode(input);
          if (decoded === null || typeof decoded !== 'object' || typeof decoded.ok !== 'boolean') return 'returned no Decoded';
          return null;
        });
      } else if (choice < 85) {
        run('cookie gate', mutate(random.pick(fromClient), random, datagramCorpus), (input) => {
          if (typeof looksLikeClientHello(input) !== 'boolean') return 'looksLikeClientHello returned no boolean';
          const verdict = gate.check(input, '10.77.0.2:53526');
          return ['accept', 'reply', 'drop'].includes(verdict.action) ? null : `unknown verdict ${String(verdict.action)}`;
        });
      } else if (choice < 90) {
        const pair = random.pick(sessionPairs);
        run(`established session (${pair.suite.name})`, mutate(random.pick(pair.sentRecords), random, datagramCorpus), (input) => {
          pair.violation = null;
          const errorsBefore = tap.lines.length;
          pair.server.handleDatagram(Buffer.from(input));
          if (tap.lines.length > errorsBefore) return `session hid an internal error: ${tap.lines.at(-1)}`;
          if (pair.violation !== null) return pair.violation;
          if (pair.server.state !== 'established') return `the server left the established state for ${pair.server.state}`;
          // Undisturbed: a fresh record from the real peer still gets through.
          const fresh = Buffer.from(`fresh after input ${report.iterations}`);
          pair.lastDelivered = null;
          pair.server.handleDatagram(pair.clientSends(fresh));
          return pair.lastDelivered === fresh.toString('hex') ? null : 'a fresh record from the peer was not delivered after this input';
        }, false);
      } else {
        const session = choice < 95 ? server : client;
        const seeds = session === server ? fromClient : fromServer;
        run(`session (${session.role})`, mutate(random.pick(seeds), random, datagramCorpus), (input) => {
          const errorsBefore = tap.lines.length;
          session.feed(Buffer.from(input));
          return tap.lines.length > errorsBefore ? `session hid an internal error: ${tap.lines.at(-1)}` : null;
        });
      }
    }
  } finally {
    server.close();
    client.close();
    for (const pair of sessionPairs) pair.close();
    tap.stop();
  }
  report.authenticatedRecords = established.reduce((sum, target) => sum + target.receiver.authenticated, 0);
  report.inputDigest = digest.digest('hex');
  return report;
}
