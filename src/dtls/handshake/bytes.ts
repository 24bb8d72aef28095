// Bounded big-endian reading and writing for the handshake codecs: every read checks the length
// first, so a short or lying message becomes a typed HandshakeCodecError, never an exception.

export type HandshakeCodecReason = 'truncated' | 'trailing_bytes' | 'too_long' | 'bad_value';

export class HandshakeCodecError extends Error {
  constructor(readonly reason: HandshakeCodecReason, message: string) {
    super(message);
    this.name = 'HandshakeCodecError';
  }
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: HandshakeCodecError };

/** Thrown only inside a codec and turned into a Decoded by `decodeWith`; never escapes it. */
class Truncated extends Error {}

export class ByteReader {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array, private readonly what: string) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.offset++];
  }

  u16(): number {
    this.need(2);
    const value = (this.bytes[this.offset] << 8) | this.bytes[this.offset + 1];
    this.offset += 2;
    return value;
  }

  u24(): number {
    this.need(3);
    const value = (this.bytes[this.offset] << 16) | (this.bytes[this.offset + 1] << 8) | this.bytes[this.offset + 2];
    this.offset += 3;
    return value;
  }

  /** Exactly `length` bytes, copied so the caller may keep them after the datagram is reused. */
  bytesOf(length: number): Buffer {
    this.need(length);
    const out = Buffer.from(this.bytes.subarray(this.offset, this.offset + length));
    this.offset += length;
    return out;
  }

  /** An opaque vector with a 1-byte length prefix (`opaque x<0..2^8-1>`). */
  vector8(): Buffer {
    return this.bytesOf(this.u8());
  }

  vector16(): Buffer {
    return this.bytesOf(this.u16());
  }

  rest(): Buffer {
    return this.bytesOf(this.remaining);
  }

  private need(length: number): void {
    if (this.offset + length > this.bytes.length) throw new Truncated(`${this.what} is truncated`);
  }
}

/**
 * Runs a codec body, mapping a short read to 'truncated' and leftover bytes to 'trailing_bytes'.
 * Codecs report semantic problems by throwing HandshakeCodecError themselves.
 */
export function decodeWith<T>(bytes: Uint8Array, what: string, body: (reader: ByteReader) => T): Decoded<T> {
  const reader = new ByteReader(bytes, what);
  try {
    const value = body(reader);
    if (reader.remaining !== 0) {
      return { ok: false, error: new HandshakeCodecError('trailing_bytes', `${what} has ${reader.remaining} unexpected trailing bytes`) };
    }
    return { ok: true, value };
  } catch (error) {
    if (error instanceof Truncated) return { ok: false, error: new HandshakeCodecError('truncated', error.message) };
    if (error instanceof HandshakeCodecError) return { ok: false, error };
    throw error;
  }
}

export function fail(reason: HandshakeCodecReason, message: string): never {
  throw new HandshakeCodecError(reason, message);
}

/** Collects big-endian fields and length-prefixed vectors into one Buffer. */
export class ByteWriter {
  private readonly parts: Buffer[] = [];

  u8(value: number): this {
    this.parts.push(Buffer.of(value & 0xff));
    return this;
  }

  u16(value: number): this {
    this.parts.push(Buffer.of((value >>> 8) & 0xff, value & 0xff));
    return this;
  }

  u24(value: number): this {
    this.parts.push(Buffer.of((value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff));
    return this;
  }

  bytes(value: Uint8Array): this {
    this.parts.push(Buffer.from(value));
    return this;
  }

  vector8(value: Uint8Array): this {
    if (value.length > 0xff) throw new RangeError(`a 1-byte-length vector cannot hold ${value.length} bytes`);
    return this.u8(value.length).bytes(value);
  }

  vector16(value: Uint8Array): this {
    if (value.length > 0xffff) throw new RangeError(`a 2-byte-length vector cannot hold ${value.length} bytes`);
    return this.u16(value.length).bytes(value);
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}
