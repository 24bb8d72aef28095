// AES-128-CCM-8 and AES-128-GCM through node:crypto. OpenSSL's EVP objects cannot be rekeyed with a
// fresh nonce from JavaScript, so each record pays for one cipher object; the key is parsed once.
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import type { Aead } from './aead';

export type NodeAeadKind = 'aes-128-ccm-8' | 'aes-128-gcm';

interface AuthenticatedCipher {
  setAAD(aad: Uint8Array, options: { plaintextLength: number }): unknown;
  update(data: Uint8Array): Buffer;
  final(): Buffer;
  getAuthTag(): Buffer;
}

interface AuthenticatedDecipher {
  setAAD(aad: Uint8Array, options: { plaintextLength: number }): unknown;
  setAuthTag(tag: Uint8Array): unknown;
  update(data: Uint8Array): Buffer;
  final(): Buffer;
}

// node's typings tie each mode to its own overload, hence one pair of constructors per kind.
const modes: Record<
  NodeAeadKind,
  {
    tagLength: number;
    cipher(key: KeyObject, nonce: Uint8Array): AuthenticatedCipher;
    decipher(key: KeyObject, nonce: Uint8Array): AuthenticatedDecipher;
  }
> = {
  'aes-128-ccm-8': {
    tagLength: 8,
    cipher: (key, nonce) => createCipheriv('aes-128-ccm', key, nonce, { authTagLength: 8 }),
    decipher: (key, nonce) => createDecipheriv('aes-128-ccm', key, nonce, { authTagLength: 8 }),
  },
  'aes-128-gcm': {
    tagLength: 16,
    cipher: (key, nonce) => createCipheriv('aes-128-gcm', key, nonce, { authTagLength: 16 }),
    decipher: (key, nonce) => createDecipheriv('aes-128-gcm', key, nonce, { authTagLength: 16 }),
  },
};

const NO_BYTES = Buffer.alloc(0);

export class NodeAead implements Aead {
  readonly tagLength: number;
  private readonly key: KeyObject;
  private readonly mode: (typeof modes)[NodeAeadKind];

  constructor(
    readonly kind: NodeAeadKind,
    key: Uint8Array,
  ) {
    this.mode = modes[kind];
    this.tagLength = this.mode.tagLength;
    this.key = createSecretKey(key);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void {
    const cipher = this.mode.cipher(this.key, nonce);
    const length = plaintext.length;
    cipher.setAAD(aad, { plaintextLength: length });
    // update() returns a new buffer before we write, so sealing in place is safe. An empty
    // plaintext with no backing store (randomBytes(0) gives one) makes OpenSSL's CCM skip the
    // update and then refuse final() with "tag not set", so empty input always uses NO_BYTES.
    out.set(cipher.update(length === 0 ? NO_BYTES : plaintext), 0);
    cipher.final();
    out.set(cipher.getAuthTag(), length);
  }

  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array): number {
    const length = sealed.length - this.tagLength;
    if (length < 0) return -1;
    const decipher = this.mode.decipher(this.key, nonce);
    let plaintext: Buffer;
    try {
      decipher.setAuthTag(sealed.subarray(length));
      decipher.setAAD(aad, { plaintextLength: length });
      plaintext = decipher.update(sealed.subarray(0, length));
      decipher.final();
    } catch {
      // OpenSSL reports a tag mismatch by throwing from final(); for us it is an ordinary outcome.
      return -1;
    }
    // GCM releases plaintext before the tag is checked, so copy only after final() succeeded.
    out.set(plaintext, 0);
    return length;
  }
}
