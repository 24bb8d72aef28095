// ServerHello (RFC 5246 7.4.1.3): the server's choice of suite and its echo of extensions.
// pion sends an empty session id, OpenSSL a 32-byte one; neither matters without resumption.
//
//   +--------+--------+--------------------------------+--------+--------------+
//   | server_version  | random (32 bytes)              | sid len| session_id   |
//   +--------+--------+--------------------------------+--------+--------------+
//   | cipher_suite    | compression | extensions block (optional, see extensions.ts) |
//   +--------+--------+-------------+-----------------------------------------------+
import { ByteWriter, decodeWith, fail, type Decoded } from './bytes';
import { readExtensions, writeExtensions, type Extension } from './extensions';

export interface ServerHello {
  serverVersion: number;
  random: Buffer;
  sessionId: Buffer;
  cipherSuite: number;
  compressionMethod: number;
  extensions: Extension[];
}

export function encodeServerHello(hello: ServerHello): Buffer {
  const writer = new ByteWriter()
    .u16(hello.serverVersion)
    .bytes(hello.random)
    .vector8(hello.sessionId)
    .u16(hello.cipherSuite)
    .u8(hello.compressionMethod);
  writeExtensions(writer, hello.extensions);
  return writer.finish();
}

export function decodeServerHello(body: Uint8Array): Decoded<ServerHello> {
  return decodeWith(body, 'ServerHello', (r) => {
    const serverVersion = r.u16();
    const random = r.bytesOf(32);
    const sessionId = r.vector8();
    if (sessionId.length > 32) fail('too_long', `ServerHello session_id is ${sessionId.length} bytes; at most 32 allowed`);
    const cipherSuite = r.u16();
    const compressionMethod = r.u8();
    const extensions = readExtensions(r);
    return { serverVersion, random, sessionId, cipherSuite, compressionMethod, extensions };
  });
}
