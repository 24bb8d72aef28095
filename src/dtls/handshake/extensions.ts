// Hello extensions (RFC 5246 7.4.1.4) and the bodies of the ones this engine reads or writes.
// Unknown extensions are kept as raw bytes so a decoded hello re-encodes to the same bytes.
//
//   extensions block:  +--------+--------+----------------------------------------+
//                      | total length    | extension, extension, ...              |
//                      +--------+--------+----------------------------------------+
//   one extension:     +--------+--------+--------+--------+------------------------+
//                      | extension_type  | data length     | extension_data         |
//                      +--------+--------+--------+--------+------------------------+
import { ByteReader, ByteWriter, decodeWith, fail, type Decoded } from './bytes';

export const ExtensionType = {
  supported_groups: 10,
  ec_point_formats: 11,
  signature_algorithms: 13,
  encrypt_then_mac: 22,
  extended_master_secret: 23,
  renegotiation_info: 0xff01,
  /**
   * Ours: marks a meshboi peer. The IANA TLS ExtensionType registry reserves values whose first
   * byte is 255 for Private Use (RFC 8446 section 11; 0xFF01 predates that rule), so no standard
   * extension will collide with it; 0x6D is 'm'. Original (pion) peers ignore unknown extensions.
   */
  meshboi: 0xff6d,
} as const;

/** The version our meshboi extension carries; later features may raise it to signal more. */
export const MESHBOI_EXTENSION_VERSION = 1;

export const EC_POINT_FORMAT_UNCOMPRESSED = 0;

export interface Extension {
  type: number;
  data: Buffer;
}

/**
 * Reads the optional extensions block at the end of a hello: absent (no bytes left) and empty
 * both give []. Two extensions of one type are refused (RFC 5246 7.4.1.4).
 */
export function readExtensions(reader: ByteReader): Extension[] {
  if (reader.remaining === 0) return [];
  const block = new ByteReader(reader.vector16(), 'extensions block');
  const extensions: Extension[] = [];
  while (block.remaining > 0) {
    const type = block.u16();
    const data = block.vector16();
    if (extensions.some((e) => e.type === type)) fail('bad_value', `extension ${type} appears twice`);
    extensions.push({ type, data });
  }
  return extensions;
}

/** Writes the block, or nothing for an empty list (the "no extensions" form of a hello). */
export function writeExtensions(writer: ByteWriter, extensions: readonly Extension[]): void {
  if (extensions.length === 0) return;
  const block = new ByteWriter();
  for (const extension of extensions) block.u16(extension.type).vector16(extension.data);
  writer.vector16(block.finish());
}

export function findExtension(extensions: readonly Extension[], type: number): Extension | undefined {
  return extensions.find((e) => e.type === type);
}

/** RFC 7627: empty in both hellos. */
export function extendedMasterSecretExtension(): Extension {
  return { type: ExtensionType.extended_master_secret, data: Buffer.alloc(0) };
}

/** RFC 5746 3.4/3.6: on an initial handshake renegotiated_connection is empty. */
export function renegotiationInfoExtension(): Extension {
  return { type: ExtensionType.renegotiation_info, data: Buffer.of(0) };
}

export function decodeRenegotiationInfo(data: Uint8Array): Decoded<Buffer> {
  return decodeWith(data, 'renegotiation_info', (r) => r.vector8());
}

export function meshboiExtension(): Extension {
  return { type: ExtensionType.meshboi, data: Buffer.of(MESHBOI_EXTENSION_VERSION) };
}

/** The peer's meshboi version; later versions may append bytes after the first, which we skip. */
export function decodeMeshboi(data: Uint8Array): Decoded<{ version: number }> {
  return decodeWith(data, 'meshboi extension', (r) => {
    const version = r.u8();
    if (version === 0) fail('bad_value', 'meshboi extension version 0 does not exist');
    r.rest();
    return { version };
  });
}

/** RFC 8422 5.1.1: `NamedCurve named_curve_list<2..2^16-1>`. */
export function supportedGroupsExtension(groups: readonly number[]): Extension {
  return { type: ExtensionType.supported_groups, data: new ByteWriter().vector16(encodeU16List(groups)).finish() };
}

export function decodeSupportedGroups(data: Uint8Array): Decoded<number[]> {
  return decodeWith(data, 'supported_groups', (r) => readU16List(r.vector16(), 'supported_groups list'));
}

/** RFC 8422 5.1.2: `ECPointFormat ec_point_format_list<1..2^8-1>`. */
export function ecPointFormatsExtension(): Extension {
  return { type: ExtensionType.ec_point_formats, data: Buffer.of(1, EC_POINT_FORMAT_UNCOMPRESSED) };
}

export function decodeEcPointFormats(data: Uint8Array): Decoded<number[]> {
  return decodeWith(data, 'ec_point_formats', (r) => [...r.vector8()]);
}

/** RFC 5246 7.4.1.4.1: pairs of (hash, signature) bytes; pion and OpenSSL send it, PSK never uses it. */
export function decodeSignatureAlgorithms(data: Uint8Array): Decoded<number[]> {
  return decodeWith(data, 'signature_algorithms', (r) => readU16List(r.vector16(), 'signature_algorithms list'));
}

/** Writes 16-bit values back to back; used by the cipher suite list too. */
export function encodeU16List(values: readonly number[]): Buffer {
  const writer = new ByteWriter();
  for (const value of values) writer.u16(value);
  return writer.finish();
}

/** Reads a list of 16-bit values; used by the cipher suite list too. */
export function readU16List(bytes: Buffer, what: string): number[] {
  if (bytes.length % 2 !== 0) fail('bad_value', `${what} has an odd length (${bytes.length})`);
  const values: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) values.push(bytes.readUInt16BE(i));
  return values;
}
