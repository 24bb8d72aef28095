// The probe records of `meshboi ping`: a probe and its reply, sent as the plaintext of one
// application_data record through a peer's DTLS session (docs/member.md, "Probes"). Pure codec.
//
//    byte 0          bytes 1-4
//   +---------------+-------------------+
//   | 0x1 | type    | probe id (u32 BE) |      type: 1 probe, 2 reply
//   +---------------+-------------------+
//
// The high nibble of byte 0 is an IP packet's version (4 or 6); 1 can never be one, so the
// receiving member tells a probe from a packet by that nibble alone, before any IP parsing.
// Only our own members receive these: an original (pion) member would write them to its TUN.

export const PROBE_NIBBLE = 0x1;
export const PROBE_RECORD_BYTES = 5;

export type ProbeType = 'probe' | 'reply';

const TYPE_CODES: Record<ProbeType, number> = { probe: 1, reply: 2 };

export interface ProbeRecord {
  type: ProbeType;
  /** Chosen by the prober; a reply echoes it. */
  id: number;
}

export type ProbeDecodeResult = { ok: true; value: ProbeRecord } | { ok: false; error: string };

/** Whether a record's plaintext is one of ours rather than an IP packet: one byte looked at, so the packet path may ask. */
export function isProbeRecord(plaintext: Uint8Array): boolean {
  return plaintext.length > 0 && plaintext[0] >> 4 === PROBE_NIBBLE;
}

export function encodeProbeRecord(record: ProbeRecord): Buffer {
  if (!Number.isInteger(record.id) || record.id < 0 || record.id > 0xffff_ffff) throw new RangeError(`probe id ${record.id} is not a u32`);
  const bytes = Buffer.alloc(PROBE_RECORD_BYTES);
  bytes[0] = (PROBE_NIBBLE << 4) | TYPE_CODES[record.type];
  bytes.writeUInt32BE(record.id, 1);
  return bytes;
}

export function decodeProbeRecord(bytes: Uint8Array): ProbeDecodeResult {
  if (!isProbeRecord(bytes)) return { ok: false, error: `not a probe record (first nibble ${bytes.length === 0 ? 'missing' : bytes[0] >> 4}, want ${PROBE_NIBBLE})` };
  if (bytes.length !== PROBE_RECORD_BYTES) return { ok: false, error: `a probe record is ${PROBE_RECORD_BYTES} bytes, got ${bytes.length}` };
  const code = bytes[0] & 0x0f;
  const type = code === TYPE_CODES.probe ? 'probe' : code === TYPE_CODES.reply ? 'reply' : null;
  if (type === null) return { ok: false, error: `unknown probe record type ${code}` };
  return { ok: true, value: { type, id: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readUInt32BE(1) } };
}
