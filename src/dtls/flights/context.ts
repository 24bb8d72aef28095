// What one handshake accumulates across flights: randoms, the chosen suite, the transcript that
// Extended Master Secret and Finished hash, our outgoing message_seq, and the derived secrets.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { CipherSuiteId, Role } from '../api';
import type { CipherSuite } from '../cipher/suites';
import type { X25519KeyPair } from '../cipher/x25519';
import { expandKeyBlock, extendedMasterSecret, finishedVerifyData, pskPremasterSecret, RANDOM_LENGTH, transcriptHash, type KeyBlock } from '../prf';
import type { HandshakeMessage } from '../handshake/fragmentation';
import { encodeWholeMessage } from '../handshake/header';
import type { FlightItem } from './flight';

/** Why a handshake cannot go on: the alert we send and the error the caller sees. */
export interface HandshakeFailure {
  failure: true;
  alert: number;
  message: string;
}

export function handshakeFailure(alert: number, message: string): HandshakeFailure {
  return { failure: true, alert, message: `handshake failed: ${message}` };
}

export function isFailure<T extends object>(value: T | HandshakeFailure): value is HandshakeFailure {
  return 'failure' in value;
}

export class HandshakeContext {
  /** Ours as client; the peer's, from its ClientHello, as server. */
  clientRandom: Buffer;
  serverRandom: Buffer = Buffer.alloc(0);
  suite: CipherSuite | null = null;
  /** Our ephemeral X25519 pair, for ECDHE_PSK only. */
  keyPair: X25519KeyPair | null = null;
  /** The peer's X25519 public key (as client, from ServerKeyExchange). */
  peerPublicKey: Buffer | null = null;
  masterSecret: Buffer | null = null;
  peerIdentity = '';
  peerIsMeshboi = false;
  /** Whole messages (unfragmented 12-byte header + body) in the order both sides saw them. */
  private transcript: Buffer[] = [];
  private nextSendSeq = 0;

  constructor(
    readonly role: Role,
    readonly psk: Buffer,
    readonly identity: string,
    readonly cipherSuites: readonly CipherSuiteId[],
    readonly announceMeshboi: boolean,
  ) {
    this.clientRandom = role === 'client' ? randomBytes(RANDOM_LENGTH) : Buffer.alloc(0);
  }

  /**
   * Server: our ServerHello takes the message_seq of the ClientHello it answers (1 after a
   * stateless cookie exchange), as pion and OpenSSL do, so our numbering continues the exchange.
   */
  answerFrom(clientHelloSeq: number): void {
    this.nextSendSeq = clientHelloSeq;
  }

  /** Takes the next message_seq for one of our messages and adds it to the transcript. */
  outgoing(msgType: number, body: Buffer, epoch = 0): FlightItem {
    const message: HandshakeMessage = { msgType, messageSeq: this.nextSendSeq++, body };
    this.transcript.push(encodeWholeMessage(msgType, message.messageSeq, body));
    return { kind: 'handshake', epoch, message };
  }

  incoming(message: HandshakeMessage): void {
    this.transcript.push(encodeWholeMessage(message.msgType, message.messageSeq, message.body));
  }

  /** RFC 6347 4.2.6: the first ClientHello and the HelloVerifyRequest stay out of the transcript. */
  restartTranscript(): void {
    this.transcript = [];
  }

  /**
   * Premaster (RFC 4279 / 5489) -> extended master secret over the transcript so far, which must
   * end with the ClientKeyExchange (RFC 7627 4) -> key block.
   */
  deriveKeys(otherSecret: Buffer | null): KeyBlock {
    const suite = this.suite!;
    const premaster = otherSecret ? pskPremasterSecret(this.psk, otherSecret) : pskPremasterSecret(this.psk);
    this.masterSecret = extendedMasterSecret(suite.prfHash, premaster, transcriptHash(suite.prfHash, this.transcript));
    return expandKeyBlock(suite, this.masterSecret, this.clientRandom, this.serverRandom);
  }

  /** verify_data for `sender`'s Finished over the transcript so far. */
  verifyData(sender: Role): Buffer {
    const suite = this.suite!;
    return finishedVerifyData(suite.prfHash, this.masterSecret!, sender, transcriptHash(suite.prfHash, this.transcript));
  }

  /** Compares the peer's verify_data with ours in constant time. */
  peerFinishedMatches(verifyData: Buffer): boolean {
    const expected = this.verifyData(this.role === 'client' ? 'server' : 'client');
    return expected.length === verifyData.length && timingSafeEqual(expected, verifyData);
  }
}
