// AES-128-GCM and AES-128-CCM-8 through the meshboi_aead addon (native/aead.cc): one native call
// per record with the key scheduled once, where node:crypto (NodeAead, the reference) builds a
// cipher object per record. Absent when the addon is not built; aead.ts then uses NodeAead.
import path from 'node:path';
import type { Aead } from './aead';
import type { NodeAeadKind } from './node-aead';

interface NativeAesAead {
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array): number;
}

type AesAeadConstructor = new (kind: NodeAeadKind, key: Uint8Array) => NativeAesAead;

const ADDON_PATH = path.join(__dirname, '..', '..', '..', '..', 'build', 'Release', 'meshboi_aead.node');

/** Loaded with this module, not on a first handshake, whose retransmission timer it would delay; null when absent. */
const AesAead = loadAddon();

function loadAddon(): AesAeadConstructor | null {
  try {
    return (require(ADDON_PATH) as { AesAead: AesAeadConstructor }).AesAead;
  } catch {
    return null;
  }
}

/** The native AES AEAD for `key`, or null when the addon does not load. */
export function nativeAesAead(kind: NodeAeadKind, key: Uint8Array): Aead | null {
  if (AesAead === null) return null;
  const native = new AesAead(kind, key);
  const tagLength = kind === 'aes-128-ccm-8' ? 8 : 16;
  return {
    kind,
    tagLength,
    seal: (nonce, aad, plaintext, out) => native.seal(nonce, aad, plaintext, out),
    open: (nonce, aad, sealed, out) => native.open(nonce, aad, sealed, out),
  };
}
