// Record-layer benchmark: seal and open rates per suite and payload size, each beside the bare AEAD
// calls of the same library on the same payloads, measured interleaved in the same run, as a ratio.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CIPHER_SUITES, type CipherSuite } from '../src/dtls/cipher/suites';
import { sodiumChaCha } from '../src/dtls/cipher/sodium-aead';
import { expandKeyBlock } from '../src/dtls/prf';
import { ContentType } from '../src/dtls/record/header';
import { RecordLayer, type RecordReceiver } from '../src/dtls/record/record-layer';

const PAYLOAD_SIZES = [1200, 1400];
// Short batches, many of them: on a shared machine most batches run uncontended, and a low
// percentile of the batch times reflects the code rather than the neighbours.
const BATCH = 64;
/** Batches per suite and size; BENCH_BATCHES=100 gives a quick look. */
const BATCHES = Number(process.env.BENCH_BATCHES ?? 1000);
const PERCENTILE = 0.1;

/** The bare library calls for one suite: what a record costs with nothing but the AEAD around it. */
interface BareAead {
  seal(nonce: Buffer, aad: Buffer, plaintext: Buffer, out: Buffer): void;
  open(nonce: Buffer, aad: Buffer, sealed: Buffer, out: Buffer): void;
}

function bareAead(suite: CipherSuite, key: Buffer): BareAead {
  if (suite.aead === 'chacha20-poly1305') {
    return {
      seal: (nonce, aad, plaintext, out) => {
        sodiumChaCha.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, aad, null, nonce, key);
      },
      open: (nonce, aad, sealed, out) => {
        sodiumChaCha.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, sealed, aad, nonce, key);
      },
    };
  }
  const algorithm = suite.aead === 'aes-128-gcm' ? 'aes-128-gcm' : 'aes-128-ccm';
  const tagLength = suite.tagLength;
  return {
    seal: (nonce, aad, plaintext, out) => {
      const cipher = createCipheriv(algorithm as 'aes-128-ccm', key, nonce, { authTagLength: tagLength });
      cipher.setAAD(aad, { plaintextLength: plaintext.length });
      out.set(cipher.update(plaintext));
      cipher.final();
      out.set(cipher.getAuthTag(), plaintext.length);
    },
    open: (nonce, aad, sealed, out) => {
      const length = sealed.length - tagLength;
      const decipher = createDecipheriv(algorithm as 'aes-128-ccm', key, nonce, { authTagLength: tagLength });
      decipher.setAuthTag(sealed.subarray(length));
      decipher.setAAD(aad, { plaintextLength: length });
      out.set(decipher.update(sealed.subarray(0, length)));
      decipher.final();
    },
  };
}

class CountingReceiver implements RecordReceiver {
  bytes = 0;
  onRecord(_contentType: number, _epoch: number, payload: Buffer): void {
    this.bytes += payload.length;
  }
}

interface Measured {
  suite: string;
  operation: 'seal' | 'open';
  bytes: number;
  bare: number;
  record: number;
}

function percentile(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length * PERCENTILE)]!;
}

/** Times one batch of BATCH operations in nanoseconds. */
function timeBatch(batch: () => void): number {
  const start = process.hrtime.bigint();
  batch();
  return Number(process.hrtime.bigint() - start);
}

function measureSuite(suite: CipherSuite, payloadSize: number): Measured[] {
  const keys = expandKeyBlock(suite, randomBytes(48), randomBytes(32), randomBytes(32));
  const receiver = new CountingReceiver();
  const sender = new RecordLayer(new CountingReceiver());
  const opener = new RecordLayer(receiver);
  sender.setPendingKeys(suite, keys, 'client');
  opener.setPendingKeys(suite, keys, 'server');
  sender.activateWrite();
  opener.activateRead();

  const bare = bareAead(suite, keys.clientWriteKey);
  const payload = randomBytes(payloadSize);
  const nonce = randomBytes(12);
  const aad = randomBytes(13);
  const sealedOut = Buffer.alloc(payloadSize + suite.tagLength);
  const openedOut = Buffer.alloc(payloadSize);
  // Distinct ciphertexts (one nonce each), resealed before every batch like the records, so both
  // open loops read the same amount of equally warm memory.
  const bareNonces = Array.from({ length: BATCH }, () => randomBytes(12));
  const bareSealed = bareNonces.map(() => Buffer.alloc(payloadSize + suite.tagLength));
  const records: Buffer[] = new Array<Buffer>(BATCH);
  const prepare = (): void => {
    for (let i = 0; i < BATCH; i++) {
      bare.seal(bareNonces[i]!, aad, payload, bareSealed[i]!);
      records[i] = sender.seal(ContentType.applicationData, payload);
    }
  };

  const bareSeal = (): void => {
    for (let i = 0; i < BATCH; i++) {
      nonce[11] = i;
      bare.seal(nonce, aad, payload, sealedOut);
    }
  };
  const recordSeal = (): void => {
    for (let i = 0; i < BATCH; i++) sender.seal(ContentType.applicationData, payload);
  };
  const bareOpen = (): void => {
    for (let i = 0; i < BATCH; i++) bare.open(bareNonces[i]!, aad, bareSealed[i]!, openedOut);
  };
  const recordOpen = (): void => {
    for (let i = 0; i < BATCH; i++) opener.openDatagram(records[i]!);
  };

  // Bare and record batches alternate (and swap order each time) so CPU contention hits both alike.
  const times = { bareSeal: [] as number[], recordSeal: [] as number[], bareOpen: [] as number[], recordOpen: [] as number[] };
  for (let i = 0; i < BATCHES; i++) {
    prepare();
    if (i % 2 === 0) {
      times.bareSeal.push(timeBatch(bareSeal));
      times.recordSeal.push(timeBatch(recordSeal));
      times.bareOpen.push(timeBatch(bareOpen));
      times.recordOpen.push(timeBatch(recordOpen));
    } else {
      times.recordSeal.push(timeBatch(recordSeal));
      times.bareSeal.push(timeBatch(bareSeal));
      times.recordOpen.push(timeBatch(recordOpen));
      times.bareOpen.push(timeBatch(bareOpen));
    }
  }
  const dropped = opener.counters.droppedAuth + opener.counters.droppedReplay + opener.counters.droppedMalformed;
  if (dropped > 0 || receiver.bytes !== BATCH * BATCHES * payloadSize) {
    throw new Error(`benchmark records failed to open: ${dropped} dropped`);
  }
  const perSecond = (durations: number[]): number => BATCH / (percentile(durations) / 1e9);
  return [
    { suite: suite.name, operation: 'seal', bytes: payloadSize, bare: perSecond(times.bareSeal), record: perSecond(times.recordSeal) },
    { suite: suite.name, operation: 'open', bytes: payloadSize, bare: perSecond(times.bareOpen), record: perSecond(times.recordOpen) },
  ];
}

function gbits(recordsPerSecond: number, bytes: number): string {
  return ((recordsPerSecond * bytes * 8) / 1e9).toFixed(2);
}

function main(): void {
  const rows: Measured[] = [];
  for (const suite of CIPHER_SUITES) {
    for (const size of PAYLOAD_SIZES) rows.push(...measureSuite(suite, size));
  }
  const header = ['suite', 'op', 'bytes', 'bare rec/s', 'bare Gbit/s', 'record rec/s', 'record Gbit/s', 'ratio'];
  const table = rows.map((row) => [
    row.suite.replace(/^TLS_/, ''),
    row.operation,
    String(row.bytes),
    Math.round(row.bare).toLocaleString('en-US'),
    gbits(row.bare, row.bytes),
    Math.round(row.record).toLocaleString('en-US'),
    gbits(row.record, row.bytes),
    (row.record / row.bare).toFixed(2),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...table.map((cells) => cells[column]!.length)));
  const line = (cells: string[]): string => cells.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  console.log(
    `DTLS record layer vs bare AEAD: ${PERCENTILE * 100}th-percentile batch time of ${BATCHES} interleaved batches of ${BATCH} records; Gbit/s counts payload (Node ${process.version})`,
  );
  console.log(line(header));
  for (const cells of table) console.log(line(cells));
  const worst = Math.min(...rows.map((row) => row.record / row.bare));
  console.log(`lowest ratio ${worst.toFixed(2)} (target >= 0.80): ${worst >= 0.8 ? 'met' : 'NOT met'}`);
}

main();
