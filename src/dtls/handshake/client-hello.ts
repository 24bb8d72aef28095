// ClientHello (RFC 6347 4.2.1 and RFC 5246 7.4.1.2): the DTLS form adds a cookie after the
// session id. Unknown extensions and suites are kept as sent so the message re-encodes exactly.
//
//   +--------+--------+--------------------------------+--------+--------------+
//   | client_version  | random (32 bytes)              | sid len| session_id   |  (0 or 32 bytes)
//   +--------+--------+--------------------------------+--------+--------------+
//   | cookie len| cookie (0..255) | suites length (2) | cipher_suites, 2 bytes each |
//   +--------+--------+-------------------------------+--------+-----------------+
//   | comp len | compression_methods | extensions block (optional, see extensions.ts) |
//   +----------+---------------------+-----------------------------------------------+
import { ByteWriter, decodeWith, fail, type Decoded } from './bytes';
import { encodeU16List, readExtensions, readU16List, writeExtensions, type Extension } from './extensions';

/** TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 3.3): OpenSSL offers it; it is not a real suite. */
export const RENEGOTIATION_INFO_SCSV = 0x00ff;
export const COMPRESSION_NULL = 0;

export interface ClientHello {
  clientVersion: number;
  random: Buffer;
  sessionId: Buffer;
  cookie: Buffer;
  cipherSuites: number[];
  compressionMethods: number[];
  extensions: Extension[];
}

export function encodeClientHello(hello: ClientHello): Buffer {
  const writer = new ByteWriter()
    .u16(hello.clientVersion)
    .bytes(hello.random)
    .vector8(hello.sessionId)
    .vector8(hello.cookie)
    .vector16(encodeU16List(hello.cipherSuites))
    .vector8(Buffer.from(hello.compressionMethods));
  writeExtensions(writer, hello.extensions);
  return writer.finish();
}

export function decodeClientHello(body: Uint8Array): Decoded<ClientHello> {
  return decodeWith(body, 'ClientHello', (r) => {
    const clientVersion = r.u16();
    const random = r.bytesOf(32);
    const sessionId = r.vector8();
    if (sessionId.length > 32) fail('too_long', `ClientHello session_id is ${sessionId.length} bytes; at most 32 allowed`);
    const cookie = r.vector8();
    const cipherSuites = readU16List(r.vector16(), 'ClientHello cipher_suites');
    if (cipherSuites.length === 0) fail('bad_value', 'ClientHello offers no cipher suite');
    const compressionMethods = [...r.vector8()];
    if (compressionMethods.length === 0) fail('bad_value', 'ClientHello offers no compression method');
    const extensions = readExtensions(r);
    return { clientVersion, random, sessionId, cookie, cipherSuites, compressionMethods, extensions };
  });
}
