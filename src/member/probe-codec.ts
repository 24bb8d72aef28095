// The probe records our members exchange through a peer's DTLS session, as the plaintext of one
// application_data record (docs/member.md, "Probes" and "Path MTU"). Pure codec.
//
//    byte 0          bytes 1-4           bytes 5 ...
//   +---------------+-------------------+------------------------------+
//   | 0x1 | type    | probe id (u32 BE) | size probes only: zeros      |
//   +---------------+-------------------+------------------------------+
//   type: 1 probe, 2 reply (`meshboi ping`); 3 size probe, padded to the packet size it tries,
//   4 size reply (path-mtu.ts). Every other record is exactly five bytes.
//
// The high nibble of byte 0 is an IP packet's version (4 or 6); 1 can never be one, so the
// receiving member tells a probe from a packet by that nibble alone, before any IP parsing.
// Only our own members receive these: an original (pion) member would write them to its TUN.

export const PROBE_NIBBLE = 0x1;
export const PROBE_RECORD_BYTES = 5;

export type ProbeType = 'probe' | 'reply' | 'size' | 'size-reply';

const TYPES: readonly (ProbeType | null)[] = [null, 'probe', 'reply', 'size', 'size-reply'];

export type ProbeRecord =
  /** `id` is chosen by the prober; a reply echoes it. */
  | { type: 'probe' | 'reply' | 'size-reply'; id: number }
  /** `length`: the whole record's plaintext, the size of IP packet it stands for. */
  | { type: 'size'; id: number; length: number };

export type ProbeDecodeResult = { ok: true; value: ProbeRecord } | { ok: false; error: string };

/** Whether a record's plaintext is one of ours rather than an IP packet: one byte looked at, so the packet path may ask. */
export function isProbeRecord(plaintext: Uint8Array): boolean {
  return plaintext.length > 0 && plaintext[0] >> 4 === PROBE_NIBBLE;
}

export function encodeProbeRecord(record: ProbeRecord): Buffer {
  if (!Number.isInteger(record.id) || record.id < 0 || record.id > 0xffff_ffff) throw new RangeError(`probe id ${record.id} is not a u32`);
  const length = record.type === 'size' ? record.length : PROBE_RECORD_BYTES;
  if (!Number.isInteger(length) || length < PROBE_RECORD_BYTES) throw new RangeError(`a size probe of ${length} bytes is shorter than its ${PROBE_RECORD_BYTES}-byte header`);
  const bytes = Buffer.alloc(length);
  bytes[0] = (PROBE_NIBBLE << 4) | TYPES.indexOf(record.type);
  bytes.writeUInt32BE(record.id, 1);
  return bytes;
}

export function decodeProbeRecord(bytes: Uint8Array): ProbeDecodeResult {
  if (!isProbeRecord(bytes)) return { ok: false, error: `not a probe record (first nibble ${bytes.length === 0 ? 'missing' : bytes[0] >> 4}, want ${PROBE_NIBBLE})` };
  const code = bytes[0] & 0x0f;
  const type = TYPES[code] ?? null;
  if (type === null) return { ok: false, error: `unknown probe record type ${code}` };
  if (bytes.length < PROBE_RECORD_BYTES || (type !== 'size' && bytes.length !== PROBE_RECORD_BYTES)) {
    return { ok: false, error: `a ${type} record is ${type === 'size' ? 'at least ' : ''}${PROBE_RECORD_BYTES} bytes, got ${bytes.length}` };
  }
  const id = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readUInt32BE(1);
  return { ok: true, value: type === 'size' ? { type, id, length: bytes.length } : { type, id } };
}
