// The member's side of the control surface: a Unix socket, root-only, that answers `status` and
// `ping` requests from the CLI and the tests without reaching into the member's internals.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { logger } from '../log';
import { ProbeError, type ProbeResult } from '../member/probes';
import type { MemberStatus } from '../member/status';
import { decodeRequest, encodeResponse, LineBuffer, MAX_REQUEST_BYTES, type ControlResponse } from './protocol';

const log = logger('control');

/** A client that sends nothing useful for this long is disconnected. */
const IDLE_TIMEOUT_MS = 10_000;
/** How long a probe of an existing socket waits for the member behind it. */
const PROBE_TIMEOUT_MS = 1_000;

export interface ControlHandlers {
  /** May throw (e.g. while the member is starting); the client receives the message. */
  status(): MemberStatus;
  /** One probe; rejects with a message for the person who asked (unknown peer, timeout...). */
  ping(vpnIp: string): Promise<ProbeResult>;
}

export class ControlError extends Error {
  constructor(message: string, readonly code: 'IN_USE' | 'NOT_A_SOCKET' | 'NO_DIRECTORY' | 'LISTEN') {
    super(message);
    this.name = 'ControlError';
  }
}

export class ControlServer {
  private readonly connections = new Set<net.Socket>();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly server: net.Server,
    private readonly handlers: ControlHandlers,
    /** Whether we created the socket's directory, and so may hand it over on a privilege drop. */
    private readonly createdDirectory: boolean,
  ) {
    server.on('connection', (socket) => this.serve(socket));
  }

  /**
   * Listens on `socketPath` with mode 0600 in a directory created 0700 if missing. A stale socket
   * left by a crashed member is replaced; one a live member answers on is refused.
   */
  static async listen(socketPath: string, handlers: ControlHandlers): Promise<ControlServer> {
    const directory = path.dirname(socketPath);
    let created: string | undefined;
    try {
      created = fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new ControlError(
        `cannot create the control socket directory ${directory}: ${(error as Error).message}; run as root or pick --control-socket PATH in a directory you can write`,
        'NO_DIRECTORY',
      );
    }
    await removeStaleSocket(socketPath);
    const server = net.createServer();
    const listening = new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        resolve();
      });
    });
    // listen() binds a Unix socket synchronously; the umask around it closes the window between
    // bind() and chmod() in which other users could connect.
    const previousUmask = process.umask(0o177);
    try {
      server.listen(socketPath);
    } finally {
      process.umask(previousUmask);
    }
    try {
      await listening;
    } catch (error) {
      throw new ControlError(`cannot listen on control socket ${socketPath}: ${(error as Error).message}`, 'LISTEN');
    }
    fs.chmodSync(socketPath, 0o600);
    return new ControlServer(socketPath, server, handlers, created !== undefined);
  }

  /**
   * Gives the socket (and its directory, when we created it) to the user the member is about to
   * become, so that after dropping root it can still remove the socket on exit. Call as root.
   */
  handOver(uid: number, gid: number): void {
    fs.chownSync(this.path, uid, gid);
    if (this.createdDirectory) fs.chownSync(path.dirname(this.path), uid, gid);
  }

  /** Stops listening, drops clients and removes the socket file; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const socket of this.connections) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      fs.unlinkSync(this.path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') log.warn('could not remove the control socket; remove it by hand', { path: this.path, code });
    }
  }

  private serve(socket: net.Socket): void {
    this.connections.add(socket);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => socket.destroy());
    const lines = new LineBuffer(MAX_REQUEST_BYTES);
    // Answers leave in the order the requests came, though a ping's takes a round trip.
    let answered = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      const complete = lines.push(chunk);
      if (complete === null) {
        socket.end(encodeResponse({ ok: false, error: `request longer than ${MAX_REQUEST_BYTES} bytes` }));
        return;
      }
      for (const line of complete) {
        const answer = this.answer(line);
        answered = answered.then(async () => {
          const response = await answer;
          if (!socket.destroyed) socket.write(encodeResponse(response));
        });
      }
    });
  }

  private async answer(line: string): Promise<ControlResponse> {
    const request = decodeRequest(line);
    if (!request.ok) return { ok: false, error: request.error };
    try {
      const result = request.value.method === 'ping' ? await this.handlers.ping(request.value.vpnIp) : this.handlers.status();
      return { ok: true, result };
    } catch (error) {
      if (error instanceof ProbeError) return { ok: false, error: error.message, code: error.code };
      return { ok: false, error: (error as Error).message };
    }
  }
}

async function removeStaleSocket(socketPath: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(socketPath);
  } catch {
    return;
  }
  if (!stat.isSocket()) {
    throw new ControlError(`${socketPath} exists and is not a socket; move it away or pick another --control-socket`, 'NOT_A_SOCKET');
  }
  if (await somebodyAnswers(socketPath)) {
    throw new ControlError(
      `control socket ${socketPath} is in use by a running member; stop that member first, or give this one another --tun-name or --control-socket`,
      'IN_USE',
    );
  }
  try {
    fs.unlinkSync(socketPath);
  } catch (error) {
    throw new ControlError(`cannot remove the stale control socket ${socketPath}: ${(error as Error).message}`, 'LISTEN');
  }
}

/**
 * True when a process accepts connections on the socket (or we may not even try); false for a
 * stale file nobody listens on.
 */
function somebodyAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    const finish = (answered: boolean) => {
      probe.destroy();
      resolve(answered);
    };
    probe.setTimeout(PROBE_TIMEOUT_MS, () => finish(true));
    probe.once('connect', () => finish(true));
    probe.once('error', (error: NodeJS.ErrnoException) => finish(error.code !== 'ECONNREFUSED' && error.code !== 'ENOENT'));
  });
}
