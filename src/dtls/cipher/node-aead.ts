// AES-128-CCM-8 and AES-128-GCM through node:crypto. OpenSSL's EVP objects cannot be rekeyed with a
// fresh nonce from JavaScript, so each record pays for one cipher object; the key is parsed once.
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import type { Aead } from './aead';
import type { AeadKind } from './suites';

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

abstract class NodeAead implements Aead {
  abstract readonly kind: AeadKind;
  abstract readonly tagLength: number;
  protected readonly key: KeyObject;

  constructor(key: Uint8Array) {
    this.key = createSecretKey(key);
  }

  protected abstract cipher(nonce: Uint8Array): AuthenticatedCipher;
  protected abstract decipher(nonce: Uint8Array): AuthenticatedDecipher;

  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void {
    const cipher = this.cipher(nonce);
    const length = plaintext.length;
    cipher.setAAD(aad, { plaintextLength: length });
    // update() returns a new buffer before we write, so sealing in place is safe.
    out.set(cipher.update(plaintext), 0);
    cipher.final();
    out.set(cipher.getAuthTag(), length);
  }

  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array): number {
    const length = sealed.length - this.tagLength;
    if (length < 0) return -1;
    const decipher = this.decipher(nonce);
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

export class NodeAesCcm8 extends NodeAead {
  readonly kind = 'aes-128-ccm-8' as const;
  readonly tagLength = 8;

  protected cipher(nonce: Uint8Array): AuthenticatedCipher {
    return createCipheriv('aes-128-ccm', this.key, nonce, { authTagLength: 8 });
  }

  protected decipher(nonce: Uint8Array): AuthenticatedDecipher {
    return createDecipheriv('aes-128-ccm', this.key, nonce, { authTagLength: 8 });
  }
}

export class NodeAesGcm extends NodeAead {
  readonly kind = 'aes-128-gcm' as const;
  readonly tagLength = 16;

  protected cipher(nonce: Uint8Array): AuthenticatedCipher {
    return createCipheriv('aes-128-gcm', this.key, nonce, { authTagLength: 16 });
  }

  protected decipher(nonce: Uint8Array): AuthenticatedDecipher {
    return createDecipheriv('aes-128-gcm', this.key, nonce, { authTagLength: 16 });
  }
}
