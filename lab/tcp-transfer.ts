// A TCP transfer the lab runs inside namespaces: `receive` takes one connection and reads it to the
// end, `send` writes a number of random bytes and closes; both print the byte count and SHA-256 as one JSON line.
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { parseArgs } from 'node:util';

const CHUNK_BYTES = 64 * 1024;

function receive(address: string, port: number): void {
  const server = net.createServer((socket) => {
    server.close();
    const hash = createHash('sha256');
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    socket.on('end', () => {
      process.stdout.write(`${JSON.stringify({ bytes, sha256: hash.digest('hex') })}\n`);
      socket.end();
    });
  });
  server.listen(port, address, () => process.stdout.write(`${JSON.stringify({ listening: port })}\n`));
}

async function send(address: string, port: number, total: number): Promise<void> {
  const started = Date.now();
  const socket = net.connect(port, address);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const hash = createHash('sha256');
  for (let sent = 0; sent < total; sent += CHUNK_BYTES) {
    const chunk = randomBytes(Math.min(CHUNK_BYTES, total - sent));
    hash.update(chunk);
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  // Resolves once the receiver has read everything and closed its side too.
  await new Promise<void>((resolve, reject) => {
    socket.once('close', () => resolve());
    socket.once('error', reject);
    socket.end();
    socket.resume();
  });
  process.stdout.write(`${JSON.stringify({ bytes: total, sha256: hash.digest('hex'), seconds: (Date.now() - started) / 1_000 })}\n`);
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { address: { type: 'string', default: '0.0.0.0' }, port: { type: 'string', default: '5300' }, bytes: { type: 'string', default: '1048576' } },
  });
  const port = Number(values.port);
  if (positionals[0] === 'receive') return receive(values.address ?? '0.0.0.0', port);
  if (positionals[0] === 'send') return send(values.address ?? '', port, Number(values.bytes));
  throw new Error(`unknown mode "${positionals[0] ?? ''}": use receive or send`);
}

main().catch((error: unknown) => {
  process.stderr.write(`tcp-transfer: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
