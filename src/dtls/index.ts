// The DTLS engine's public face: sessions, the stateless cookie gate for unknown addresses, and
// the shared contract types. Callers import from here, never from the layers beneath.
export { DtlsSession } from './session';
export { CookieGate, looksLikeClientHello, type CookieVerdict } from './cookie';
export * from './api';
export { cipherSuiteById } from './cipher/suites';
export { MAX_PLAINTEXT_LENGTH } from './record/header';
export type { ReadHandover, WriteHandover } from './record/record-layer';
export { AlertDescription } from './alert';
