// The control protocol between a running member and `meshboi status` or `meshboi ping`: one JSON
// request per line, one JSON response per line, over a root-only Unix socket. Pure codecs; the
// sockets live beside.
import path from 'node:path';

export const DEFAULT_CONTROL_DIRECTORY = '/run/meshboi';
/** A request is a few dozen bytes; anything longer is not one of ours. */
export const MAX_REQUEST_BYTES = 4096;
/** A status of thousands of peers stays far below this; a longer answer means a broken peer. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export const CONTROL_METHODS = ['status', 'ping'] as const;
export type ControlMethod = (typeof CONTROL_METHODS)[number];

/** `status`: the MemberStatus. `ping`: one probe to the peer holding `vpnIp`, answered with its ProbeResult. */
export type ControlRequest = { method: 'status' } | { method: 'ping'; vpnIp: string };

/** `code` names a refusal a caller may act on (a ProbeError's code); the error is for people. */
export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: string; code?: string };

export type DecodedControl<T> = { ok: true; value: T } | { ok: false; error: string };

/** Where a member with this TUN name listens unless told otherwise. */
export function defaultControlSocketPath(tunName: string): string {
  return path.join(DEFAULT_CONTROL_DIRECTORY, `${tunName}.sock`);
}

export function encodeRequest(request: ControlRequest): Buffer {
  return Buffer.from(`${JSON.stringify(request)}\n`);
}

export function decodeRequest(line: string): DecodedControl<ControlRequest> {
  const value = parseObject(line);
  if (!value) return { ok: false, error: 'the request is not a JSON object' };
  const method = value.method;
  if (typeof method !== 'string' || !(CONTROL_METHODS as readonly string[]).includes(method)) {
    return { ok: false, error: `unknown method ${JSON.stringify(method)}; known: ${CONTROL_METHODS.join(', ')}` };
  }
  if (method === 'ping') {
    if (typeof value.vpnIp !== 'string') return { ok: false, error: 'a ping request needs "vpnIp", the VPN IP of the peer to probe' };
    return { ok: true, value: { method, vpnIp: value.vpnIp } };
  }
  return { ok: true, value: { method: 'status' } };
}

export function encodeResponse(response: ControlResponse): Buffer {
  return Buffer.from(`${JSON.stringify(response)}\n`);
}

export function decodeResponse(line: string): DecodedControl<ControlResponse> {
  const value = parseObject(line);
  if (!value) return { ok: false, error: 'the answer is not a JSON object' };
  if (value.ok === true && 'result' in value) return { ok: true, value: { ok: true, result: value.result } };
  if (value.ok === false && typeof value.error === 'string') {
    return { ok: true, value: typeof value.code === 'string' ? { ok: false, error: value.error, code: value.code } : { ok: false, error: value.error } };
  }
  return { ok: false, error: 'the answer has neither a result nor an error' };
}

function parseObject(line: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Collects stream chunks into whole lines, refusing to hold more than `maxBytes` of one line. */
export class LineBuffer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The complete lines in this chunk (without their "\n"), or null once a line grows too long. */
  push(chunk: Buffer): string[] | null {
    const lines: string[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
      this.pending.push(chunk.subarray(start, newline));
      const line = Buffer.concat(this.pending);
      if (line.length > this.maxBytes) return null;
      lines.push(line.toString('utf8'));
      this.pending = [];
      this.pendingBytes = 0;
      start = newline + 1;
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
    }
    return this.pendingBytes > this.maxBytes ? null : lines;
  }
}
