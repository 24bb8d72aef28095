// One DTLS 1.2 PSK session, client or server, without I/O: datagrams in through handleDatagram,
// datagrams out through config.send. Receive: record layer -> handshake reassembly -> flights, or
// application data -> onData. A typed state machine: handshaking -> established -> closed (terminal).
import { systemClock } from '../clock';
import { AlertDescription, AlertLevel, alertName, decodeAlert, encodeAlert } from './alert';
import type { CloseReason, HandshakeInfo, Role, SessionConfig, SessionCounters, SessionEvents, SessionState } from './api';
import { DEFAULT_CIPHER_SUITE_ORDER } from './cipher/suites';
import { HandshakeContext, isFailure, type HandshakeFailure } from './flights/context';
import { FlightSender, packFlight, type Flight } from './flights/flight';
import { flight1 } from './flights/flight1';
import { flight3 } from './flights/flight3';
import { flight4 } from './flights/flight4';
import { acceptServerHello, acceptServerKeyExchange, flight5 } from './flights/flight5';
import { acceptClientKeyExchange, checkPeerFinished, flight6 } from './flights/flight6';
import { Reassembler, type HandshakeMessage } from './handshake/fragmentation';
import { decodeHandshakeFragments, HandshakeType } from './handshake/header';
import { logger } from '../log';
import { ContentType, decodeRecordHeader, MAX_PLAINTEXT_LENGTH, RecordError } from './record/header';
import { RecordLayer, type ReadHandover, type WriteHandover } from './record/record-layer';

/** Handshake datagrams stay below common path MTUs; our flights are a few hundred bytes anyway. */
const HANDSHAKE_DATAGRAM_LIMIT = 1200;
const MAX_CONTINUED_SEQUENCE = 2 ** 32;

/** The peer message the handshake needs next. */
type Awaiting =
  | 'start' // client before start()
  | 'client_hello' // server
  | 'server_hello' // client: HelloVerifyRequest or ServerHello
  | 'server_key_exchange' // client: ServerKeyExchange, or ServerHelloDone for plain PSK without a hint
  | 'server_hello_done'
  | 'client_key_exchange' // server
  | 'finished' // both: the peer's Finished, in epoch 1
  | 'nothing'; // established

const log = logger('dtls');

export class DtlsSession {
  private sessionState: SessionState = 'handshaking';
  private awaiting: Awaiting;
  private handshakeInfo: HandshakeInfo | null = null;
  private readonly records: RecordLayer;
  private readonly context: HandshakeContext;
  private readonly reassembler = new Reassembler();
  private readonly flights: FlightSender;
  /** Handshake messages, alerts and application data that arrived where they make no sense. */
  private droppedUnexpected = 0;
  /** Set while one datagram is processed: the peer repeated an old handshake message. */
  private peerRepeated = false;
  private sawCookie = false;
  /**
   * Server only: the record sequence number of the datagram carrying the client's ClientHello. Our
   * epoch-0 records continue from it, as OpenSSL's server does, so none repeats the number of the
   * stateless HelloVerifyRequest (which reused the first ClientHello's) and trips the client's
   * replay check, which would cost a retransmission.
   */
  private clientHelloRecordSequence = 0;

  constructor(private readonly config: SessionConfig, private readonly events: SessionEvents) {
    const suites = config.cipherSuites ?? DEFAULT_CIPHER_SUITE_ORDER;
    if (suites.length === 0) throw new RangeError('SessionConfig.cipherSuites is empty: offer at least one suite');
    this.context = new HandshakeContext(config.role, config.psk, config.identity, suites, config.announceMeshboi ?? true);
    this.records = new RecordLayer({ onRecord: (type, epoch, payload) => this.onRecord(type, epoch, payload) });
    this.awaiting = config.role === 'client' ? 'start' : 'client_hello';
    this.flights = new FlightSender({
      initialMs: config.retransmitInitialMs ?? 1000,
      maxTries: config.retransmitMaxTries ?? 6,
      transmit: (flight) => this.transmit(flight),
      giveUp: (flight, tries) => this.handshakeTimedOut(flight, tries),
      clock: config.clock ?? systemClock,
    });
  }

  get state(): SessionState {
    return this.sessionState;
  }

  get info(): HandshakeInfo | null {
    return this.handshakeInfo;
  }

  /** Bytes each application_data record adds to its plaintext now (header, nonce, tag). */
  get recordOverhead(): number {
    return this.records.overhead();
  }

  get counters(): SessionCounters {
    const c = this.records.counters;
    return {
      recordsIn: c.recordsIn,
      recordsOut: c.recordsOut,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      droppedReplay: c.droppedReplay,
      droppedAuth: c.droppedAuth,
      droppedMalformed: c.droppedMalformed + c.droppedEpoch + this.droppedUnexpected,
      retransmits: this.flights.retransmits,
    };
  }

  /** Client: sends flight 1. Server: nothing; it answers the ClientHello it is fed. */
  start(): void {
    if (this.awaiting !== 'start' || this.sessionState !== 'handshaking') return;
    this.awaiting = 'server_hello';
    this.flights.send(flight1(this.context));
  }

  /** Never throws: junk, replays, bad MACs and stray plaintext are dropped and counted. */
  handleDatagram(datagram: Buffer): void {
    if (this.sessionState === 'closed') return;
    if (this.awaiting === 'start') {
      // A client that has not started has nothing to answer; whatever came is not for it yet.
      this.droppedUnexpected++;
      return;
    }
    try {
      if (this.awaiting === 'client_hello') this.noteClientHelloSequence(datagram);
      const authFailuresBefore = this.records.counters.droppedAuth;
      this.peerRepeated = false;
      this.records.openDatagram(datagram);
      if (this.awaiting === 'finished' && this.records.readEpoch > 0 && this.records.counters.droppedAuth > authFailuresBefore) {
        // The peer's first protected record did not open with the keys our PSK gives.
        this.fail({
          failure: true,
          alert: AlertDescription.bad_record_mac,
          message: "handshake failed: the peer's Finished did not verify — the PSKs differ",
        });
        return;
      }
      if (this.peerRepeated) this.flights.peerRepeated();
    } catch (error) {
      this.droppedUnexpected++;
      log.error('DTLS session dropped a datagram after an internal error', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** The read keys and window for native code (see RecordLayer.handOverRead), while established; null otherwise. */
  handOverRead(): ReadHandover | null {
    return this.sessionState === 'established' ? this.records.handOverRead() : null;
  }

  /** The window native code kept comes back, when it stops opening this session's records. */
  takeBackRead(epoch: number, highest: number, bits: Uint32Array): void {
    this.records.takeBackRead(epoch, highest, bits);
  }

  /** The write keys for native code (see RecordLayer.handOverWrite), while established; null otherwise. */
  handOverWrite(take: () => number | null): WriteHandover | null {
    return this.sessionState === 'established' ? this.records.handOverWrite(take) : null;
  }

  /** Native code stopped sealing for this session; `next` is the epoch's next sequence number. */
  takeBackWrite(epoch: number, next: number): void {
    this.records.takeBackWrite(epoch, next);
  }

  /** Records native code opened and sealed with the handed-over keys, for the session's counters. */
  countHandedOver(recordsIn: number, bytesIn: number, recordsOut: number, bytesOut: number): void {
    this.records.countHandedOver(recordsIn, bytesIn, recordsOut, bytesOut);
  }

  /** An application_data record that native code opened with the handed-over keys: as if opened here. */
  receiveOpened(plaintext: Buffer): void {
    this.records.countHandedOver(1, plaintext.length, 0, 0);
    this.onRecord(ContentType.applicationData, this.records.readEpoch, plaintext);
  }

  /** One application_data record; false unless established. The packet path: no allocation but the record. */
  send(plaintext: Uint8Array): boolean {
    // A payload over one record's limit is refused here, never thrown from the packet path.
    if (this.sessionState !== 'established' || plaintext.length > MAX_PLAINTEXT_LENGTH) return false;
    this.config.send(this.records.seal(ContentType.applicationData, plaintext));
    return true;
  }

  /** Sends close_notify and closes. Callers skip this for original peers, which exit on it. */
  close(): void {
    if (this.sessionState === 'closed') return;
    this.sendAlert(AlertLevel.warning, AlertDescription.close_notify);
    this.flights.stop();
    this.transition('closed', 'local close()');
  }

  /** Closes without a word to the peer. */
  abort(): void {
    if (this.sessionState === 'closed') return;
    this.flights.stop();
    this.transition('closed', 'local abort()');
  }

  private onRecord(contentType: ContentType, epoch: number, payload: Buffer): void {
    switch (contentType) {
      case ContentType.applicationData:
        if (this.sessionState === 'established') this.events.onData(payload);
        else this.droppedUnexpected++;
        return;
      case ContentType.handshake:
        this.onHandshakeRecord(epoch, payload);
        return;
      case ContentType.changeCipherSpec:
        this.onChangeCipherSpec(epoch, payload);
        return;
      case ContentType.alert:
        this.onAlert(epoch, payload);
        return;
    }
  }

  private onHandshakeRecord(epoch: number, payload: Buffer): void {
    const fragments = decodeHandshakeFragments(payload);
    if (!fragments.ok) {
      this.droppedUnexpected++;
      return;
    }
    for (const fragment of fragments.value) {
      // Only Finished travels protected; a plaintext Finished would be a forgery (no renegotiation).
      if ((epoch === 0) === (fragment.msgType === HandshakeType.finished)) {
        this.droppedUnexpected++;
        continue;
      }
      if (this.sessionState !== 'handshaking') {
        // After the handshake only a repeat of the peer's last flight means anything.
        if (fragment.messageSeq < this.reassembler.expectedSeq) this.peerRepeated = true;
        else this.droppedUnexpected++;
        continue;
      }
      if (this.awaiting === 'client_hello' && fragment.msgType === HandshakeType.client_hello) {
        this.reassembler.skipTo(fragment.messageSeq);
        this.context.answerFrom(fragment.messageSeq);
      }
      const outcome = this.reassembler.add(fragment);
      if (outcome === 'old') this.peerRepeated = true;
      else if (outcome === 'rejected') this.droppedUnexpected++;
    }
    for (let message = this.reassembler.takeNext(); message; message = this.reassembler.takeNext()) {
      this.onHandshakeMessage(message);
      if (this.sessionState !== 'handshaking') return;
    }
  }

  /** One whole peer message, in message_seq order: the handshake state machine. */
  private onHandshakeMessage(message: HandshakeMessage): void {
    const type = message.msgType;
    switch (this.awaiting) {
      case 'client_hello':
        if (type !== HandshakeType.client_hello) return this.unexpected(message);
        this.records.setNextWriteSequence(0, this.clientHelloRecordSequence);
        return this.sendNext(flight4(this.context, message), 'client_key_exchange');
      case 'server_hello':
        if (type === HandshakeType.hello_verify_request && !this.sawCookie) {
          this.sawCookie = true;
          return this.sendNext(flight3(this.context, message), 'server_hello');
        }
        if (type !== HandshakeType.server_hello) return this.unexpected(message);
        return this.proceed(acceptServerHello(this.context, message), 'server_key_exchange');
      case 'server_key_exchange':
        if (type === HandshakeType.server_key_exchange) return this.proceed(acceptServerKeyExchange(this.context, message), 'server_hello_done');
        if (type === HandshakeType.server_hello_done && this.context.suite!.keyExchange === 'psk') return this.sendFlight5(message);
        return this.unexpected(message);
      case 'server_hello_done':
        if (type !== HandshakeType.server_hello_done) return this.unexpected(message);
        return this.sendFlight5(message);
      case 'client_key_exchange': {
        if (type !== HandshakeType.client_key_exchange) return this.unexpected(message);
        const keys = acceptClientKeyExchange(this.context, message);
        if (isFailure(keys)) return this.fail(keys);
        this.records.setPendingKeys(this.context.suite!, keys, 'server');
        this.awaiting = 'finished';
        return;
      }
      case 'finished':
        if (type !== HandshakeType.finished) return this.unexpected(message);
        return this.config.role === 'server' ? this.sendFlight6(message) : this.acceptServerFinished(message);
    }
  }

  private sendFlight5(serverHelloDone: HandshakeMessage): void {
    const result = flight5(this.context, serverHelloDone);
    if (isFailure(result)) return this.fail(result);
    this.records.setPendingKeys(this.context.suite!, result.keys, 'client');
    this.records.activateWrite();
    this.sendNext(result.flight, 'finished');
  }

  private sendFlight6(clientFinished: HandshakeMessage): void {
    const flight = flight6(this.context, clientFinished);
    if (isFailure(flight)) return this.fail(flight);
    this.records.activateWrite();
    this.sendNext(flight, 'nothing');
    this.establish();
  }

  private acceptServerFinished(serverFinished: HandshakeMessage): void {
    const failure = checkPeerFinished(this.context, serverFinished);
    if (failure) return this.fail(failure);
    this.flights.stop();
    this.establish();
  }

  private sendNext(flight: Flight | HandshakeFailure, next: Awaiting): void {
    if (isFailure(flight)) return this.fail(flight);
    this.awaiting = next;
    this.flights.peerAnswered();
    this.flights.send(flight);
  }

  private proceed(failure: HandshakeFailure | null, next: Awaiting): void {
    if (failure) return this.fail(failure);
    this.awaiting = next;
  }

  private unexpected(message: HandshakeMessage): void {
    this.fail({
      failure: true,
      alert: AlertDescription.unexpected_message,
      message: `handshake failed: the peer sent handshake message type ${message.msgType} while we waited for ${this.awaiting.replace(/_/g, ' ')}`,
    });
  }

  private establish(): void {
    const context = this.context;
    this.awaiting = 'nothing';
    this.handshakeInfo = {
      peerIdentity: context.peerIdentity,
      cipherSuite: context.suite!.id,
      extendedMasterSecret: true,
      peerIsMeshboi: context.peerIsMeshboi,
    };
    this.transition('established', `handshake complete with ${context.suite!.name}`);
    this.events.onHandshakeComplete(this.handshakeInfo);
  }

  private onChangeCipherSpec(epoch: number, payload: Buffer): void {
    // The peer's CCS switches its records to epoch 1; a repeat, or one before the keys exist, means nothing.
    if (epoch === 0 && payload.length === 1 && payload[0] === 1 && this.records.hasPendingRead && this.awaiting === 'finished') {
      this.records.activateRead();
    } else {
      this.droppedUnexpected++;
    }
  }

  private onAlert(epoch: number, payload: Buffer): void {
    const decoded = decodeAlert(payload);
    // Once established, only a protected alert may end the session: a plaintext one could be anyone's.
    if (!decoded.ok || (this.sessionState === 'established' && epoch === 0)) {
      this.droppedUnexpected++;
      return;
    }
    const { level, description } = decoded.value;
    if (description === AlertDescription.close_notify) {
      if (this.sessionState === 'established') this.sendAlert(AlertLevel.warning, AlertDescription.close_notify);
      return this.closeWith({ kind: 'close_notify' }, 'the peer sent close_notify');
    }
    if (level !== AlertLevel.fatal) return;
    this.closeWith({ kind: 'alert', description, message: this.describePeerAlert(description) }, 'the peer sent a fatal alert');
  }

  private describePeerAlert(description: number): string {
    const name = alertName(description);
    if (this.sessionState === 'established') return `the peer ended the session with a fatal ${name} alert`;
    const awaitingFinished = this.awaiting === 'finished';
    if (awaitingFinished && (description === AlertDescription.bad_record_mac || description === AlertDescription.decrypt_error)) {
      return `handshake failed: the peer could not verify our Finished (${name}) — the PSKs differ`;
    }
    if (description === AlertDescription.handshake_failure || description === AlertDescription.insufficient_security) {
      return `handshake failed: the peer refused our parameters (${name}): no common cipher suite, or no Extended Master Secret`;
    }
    if (description === AlertDescription.unknown_psk_identity) {
      return `handshake failed: the peer does not accept our PSK identity "${this.config.identity}" (${name})`;
    }
    return `handshake failed: the peer sent a fatal ${name} alert`;
  }

  private fail(failure: HandshakeFailure): void {
    this.sendAlert(AlertLevel.fatal, failure.alert);
    this.closeWith({ kind: 'alert', description: failure.alert, message: failure.message }, failure.message);
  }

  private handshakeTimedOut(flight: Flight, tries: number): void {
    const after = `after ${tries} tries`;
    let message: string;
    if (flight.number === 5) {
      message = `handshake timed out: the server never answered our Finished ${after}; the PSKs probably differ (a peer with another PSK drops our Finished silently)`;
    } else if (flight.number === 4) {
      message = `handshake timed out: the client never sent its key exchange ${after}`;
    } else {
      message = `handshake timed out: no answer to our ClientHello ${after}; is the peer running, and does UDP reach it?`;
    }
    this.closeWith({ kind: 'handshake_timeout', flight: flight.number, message }, message);
  }

  private closeWith(reason: CloseReason, why: string): void {
    if (this.sessionState === 'closed') return;
    this.flights.stop();
    this.transition('closed', why);
    this.events.onClose(reason);
  }

  private sendAlert(level: number, description: number): void {
    this.config.send(this.records.seal(ContentType.alert, encodeAlert({ level, description })));
  }

  private transmit(flight: Flight): void {
    for (const datagram of packFlight(flight, this.records, HANDSHAKE_DATAGRAM_LIMIT)) this.config.send(datagram);
  }

  private noteClientHelloSequence(datagram: Buffer): void {
    const header = decodeRecordHeader(datagram);
    // A number near the 2^48 limit would exhaust our epoch 0 at once; honest clients start near 0.
    if (!(header instanceof RecordError) && header.epoch === 0 && header.sequenceNumber < MAX_CONTINUED_SEQUENCE) {
      this.clientHelloRecordSequence = header.sequenceNumber;
    }
  }

  /** The one place the session state changes; closed is terminal and established never goes back. */
  private transition(asked: SessionState, why: string): void {
    const was = this.sessionState;
    const allowed = was !== 'closed' && !(was === 'established' && asked === 'handshaking');
    const now = allowed ? asked : was;
    this.sessionState = now;
    log.debug(`was ${was}, asked ${asked}, now ${now}`, { role: this.config.role satisfies Role, identity: this.config.identity, why });
  }
}
