// The `meshboi status` and `meshboi ping` side of the control surface: one request over the
// member's Unix socket, with errors that say which member was meant and what to do when it is not there.
import net from 'node:net';
import type { ProbeResult } from '../member/probes';
import type { MemberStatus } from '../member/status';
import { decodeResponse, encodeRequest, LineBuffer, MAX_RESPONSE_BYTES, type ControlRequest } from './protocol';

/** Said to a person as it is: each one names the member meant and what to do. */
export class ControlClientError extends Error {
  override name = 'ControlClientError';

  constructor(
    message: string,
    /** Set when the member answered with a refusal: its own message, and its code if it gave one. */
    readonly refusal: { error: string; code?: string } | null = null,
  ) {
    super(message);
  }
}

const CONNECT_ADVICE: Record<string, string> = {
  ENOENT: 'no member is running with this control socket; start `meshboi member`, or pick the member with --tun-name or --control-socket',
  ECONNREFUSED: 'nothing answers on it (a member that crashed may have left it behind); start the member again',
  EACCES: 'permission denied; the control socket is root-only, so run `meshboi status` as root (or as the member\'s --user)',
  ENOTSOCK: 'it is not a socket; check --control-socket',
};

/** Sends one request and resolves with the member's result; rejects with ControlClientError. */
export function request(socketPath: string, message: ControlRequest, timeoutMs = 5_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const lines = new LineBuffer(MAX_RESPONSE_BYTES);
    let settled = false;
    const settle = (error: Error | null, result?: unknown) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(result);
    };
    socket.setTimeout(timeoutMs, () => settle(new ControlClientError(`the member on ${socketPath} did not answer within ${timeoutMs} ms`)));
    socket.once('connect', () => socket.write(encodeRequest(message)));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const advice = CONNECT_ADVICE[error.code ?? ''] ?? error.message;
      settle(new ControlClientError(`cannot talk to the member on ${socketPath}: ${advice}`));
    });
    socket.on('end', () => settle(new ControlClientError(`the member on ${socketPath} closed the connection without answering`)));
    socket.on('data', (chunk: Buffer) => {
      const complete = lines.push(chunk);
      if (complete === null) return settle(new ControlClientError(`the answer from ${socketPath} is too long`));
      if (complete.length === 0) return;
      const response = decodeResponse(complete[0]);
      if (!response.ok) return settle(new ControlClientError(`unreadable answer from ${socketPath}: ${response.error}`));
      if (!response.value.ok) {
        const { error, code } = response.value;
        return settle(new ControlClientError(`the member on ${socketPath} refused: ${error}`, code === undefined ? { error } : { error, code }));
      }
      settle(null, response.value.result);
    });
  });
}

export async function requestStatus(socketPath: string, timeoutMs?: number): Promise<MemberStatus> {
  return (await request(socketPath, { method: 'status' }, timeoutMs)) as MemberStatus;
}

/** One probe; the member's refusal (unknown peer, not established, original peer, timeout) rejects with its message. */
export async function requestPing(socketPath: string, vpnIp: string, timeoutMs?: number): Promise<ProbeResult> {
  return (await request(socketPath, { method: 'ping', vpnIp }, timeoutMs)) as ProbeResult;
}
