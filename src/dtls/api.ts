// The contract between the DTLS engine and its callers (the member, tests, benchmarks): a
// sans-I/O session that takes datagrams in and hands datagrams out, so many sessions share one socket.
import type { Clock } from '../clock';

/** IANA cipher suite numbers this engine speaks. */
export const CipherSuiteId = {
  TLS_PSK_WITH_AES_128_CCM_8: 0xc0a8,
  TLS_PSK_WITH_AES_128_GCM_SHA256: 0x00a8,
  TLS_PSK_WITH_CHACHA20_POLY1305_SHA256: 0xccab,
  TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256: 0xccac,
  TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256: 0xd001,
} as const;
export type CipherSuiteId = (typeof CipherSuiteId)[keyof typeof CipherSuiteId];

export type Role = 'client' | 'server';

export type SessionState = 'handshaking' | 'established' | 'closed';

export interface SessionConfig {
  role: Role;
  /** The pre-shared key; for meshboi the raw bytes of the PSK text. */
  psk: Buffer;
  /** Our identity: sent as the identity hint (server) or psk_identity (client). Meshboi: the VPN IP. */
  identity: string;
  /** Suites in preference order; defaults to the engine's order with AES-128-CCM-8 last. */
  cipherSuites?: readonly CipherSuiteId[];
  /**
   * Offer (client) and echo (server) the meshboi capability extension. Default true; false makes
   * the session look exactly like an original (pion) peer, which tests of original-peer handling use.
   */
  announceMeshboi?: boolean;
  /** Hands a datagram to the transport. Called synchronously; the buffer is not reused after. */
  send: (datagram: Buffer) => void;
  /** First retransmission timeout; doubles per try (RFC 6347 4.2.4). Default 1000 ms. */
  retransmitInitialMs?: number;
  /** Flights sent at most this many times before the handshake fails. Default 6. */
  retransmitMaxTries?: number;
  /** Where the retransmission timers run; default the system clock (a test may step a ManualClock). */
  clock?: Clock;
}

export interface HandshakeInfo {
  /** The peer's identity hint (as client) or psk_identity (as server): a meshboi peer's VPN IP. */
  peerIdentity: string;
  cipherSuite: CipherSuiteId;
  /** Always true: the engine refuses to finish a handshake without Extended Master Secret. */
  extendedMasterSecret: true;
  /** The peer offered/echoed the meshboi capability extension: it is one of ours, not an original. */
  peerIsMeshboi: boolean;
}

export type CloseReason =
  | { kind: 'close_notify' }
  | { kind: 'alert'; description: number; message: string }
  /** `flight`: the one that went unanswered (5, our Finished, is what a peer with another PSK leaves unanswered). */
  | { kind: 'handshake_timeout'; flight: number; message: string }
  | { kind: 'local'; message: string };

export interface SessionEvents {
  onHandshakeComplete(info: HandshakeInfo): void;
  /** One application_data record's plaintext; valid only during the call (copy to keep it). */
  onData(plaintext: Buffer): void;
  /** Called once, when the session becomes closed for any reason other than a local close(). */
  onClose(reason: CloseReason): void;
}

export interface SessionCounters {
  recordsIn: number;
  recordsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Records dropped silently: bad MAC, replay, wrong epoch, malformed. */
  droppedReplay: number;
  droppedAuth: number;
  droppedMalformed: number;
  retransmits: number;
}
