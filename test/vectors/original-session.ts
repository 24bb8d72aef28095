// The capture of two original meshboi members (test/vectors/original-meshboi-session.json, a copy of
// the team's shared vector kept in the repository so CI machines have it), parsed for tests and fuzzers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CapturedDatagram {
  t: number;
  from: string;
  to: string;
  bytes: Buffer;
}

export interface OriginalSession {
  network: string;
  pskText: string;
  rolodex: string;
  members: Record<string, { vpn_ip: string; dtls_role: string }>;
  datagrams: CapturedDatagram[];
}

// Compiled to dist/test/vectors/, so the JSON beside the source is three levels up.
const VECTOR_FILE = join(__dirname, '..', '..', '..', 'test', 'vectors', 'original-meshboi-session.json');

export function loadOriginalSession(): OriginalSession {
  const raw = JSON.parse(readFileSync(VECTOR_FILE, 'utf8')) as {
    network: string;
    psk_text: string;
    rolodex: string;
    members: OriginalSession['members'];
    datagrams: Array<{ t: number; from: string; to: string; hex: string }>;
  };
  return {
    network: raw.network,
    pskText: raw.psk_text,
    rolodex: raw.rolodex,
    members: raw.members,
    datagrams: raw.datagrams.map((datagram) => ({
      t: datagram.t,
      from: datagram.from,
      to: datagram.to,
      bytes: Buffer.from(datagram.hex, 'hex'),
    })),
  };
}

/** The DTLS datagrams only (first byte a record content type), in capture order. */
export function capturedDtlsDatagrams(session: OriginalSession = loadOriginalSession()): CapturedDatagram[] {
  return session.datagrams.filter((datagram) => datagram.bytes[0]! >= 20 && datagram.bytes[0]! <= 23);
}
