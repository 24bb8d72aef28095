// HelloVerifyRequest (RFC 6347 4.2.1): the server's stateless cookie challenge. pion writes
// version 0xFEFD, OpenSSL 0xFEFF (as the RFC advises); a client accepts both.
//
//   +--------+--------+--------+------------------------+
//   | server_version  | length | cookie (0..255 bytes)  |
//   +--------+--------+--------+------------------------+
import { ByteWriter, decodeWith, fail, type Decoded } from './bytes';
import { ProtocolVersion } from '../record/header';

export interface HelloVerifyRequest {
  serverVersion: number;
  cookie: Buffer;
}

export function encodeHelloVerifyRequest(request: HelloVerifyRequest): Buffer {
  return new ByteWriter().u16(request.serverVersion).vector8(request.cookie).finish();
}

export function decodeHelloVerifyRequest(body: Uint8Array): Decoded<HelloVerifyRequest> {
  return decodeWith(body, 'HelloVerifyRequest', (r) => {
    const serverVersion = r.u16();
    if (serverVersion !== ProtocolVersion.dtls12 && serverVersion !== ProtocolVersion.dtls10) {
      fail('bad_value', `HelloVerifyRequest version 0x${serverVersion.toString(16)} is neither DTLS 1.0 nor 1.2`);
    }
    return { serverVersion, cookie: r.vector8() };
  });
}
