// A session's record layer: per-epoch read and write protection, write sequence numbers, the replay
// window, and the receive loop that turns a datagram into records for the handshake or the app.
// Receive pipeline: header check -> epoch filter -> replay check -> open in place -> window update -> receiver.
import type { Role } from '../api';
import type { AeadKind, CipherSuite } from '../cipher/suites';
import type { KeyBlock } from '../prf';
import { ReplayWindow } from '../replay-window';
import {
  checkRecordHeader,
  ContentType,
  MAX_EPOCH,
  MAX_PLAINTEXT_LENGTH,
  MAX_SEQUENCE_NUMBER,
  ProtocolVersion,
  readUint48,
  RECORD_HEADER_LENGTH,
  RecordError,
  writeRecordHeader,
  type ContentType as ContentTypeValue,
} from './header';
import { RecordProtection } from './protection';
import { allocateRecord } from './slab';

/** Set once per session; the record layer calls it for every record that passes. No per-packet closures. */
export interface RecordReceiver {
  /**
   * A record of the current read epoch (authenticated, decrypted) or of epoch 0 (plaintext, so the
   * handshake can see retransmissions). `payload` views the datagram: valid only during the call.
   * The receiver may call activateRead() here; later records of the same datagram then use it.
   */
  onRecord(contentType: ContentTypeValue, epoch: number, payload: Buffer): void;
}

export interface RecordLayerCounters {
  recordsIn: number;
  bytesIn: number;
  recordsOut: number;
  bytesOut: number;
  droppedReplay: number;
  droppedAuth: number;
  droppedMalformed: number;
  /** Records of an epoch we cannot read now (future, old), and application data in epoch 0. */
  droppedEpoch: number;
}

/** The current read epoch's keys and replay window, for native code that opens its records from then on. */
export interface ReadHandover {
  aead: AeadKind;
  key: Uint8Array;
  /** The 12-byte ChaCha20 IV or the 4-byte AES-GCM salt. */
  iv: Uint8Array;
  epoch: number;
  /** The replay window: its highest accepted sequence number (-1 for none) and its bits (replay-window.ts). */
  highest: number;
  bits: Uint32Array;
}

/** The current write epoch's keys and next sequence number, for native code that seals its application data from then on. */
export interface WriteHandover {
  aead: AeadKind;
  key: Uint8Array;
  iv: Uint8Array;
  epoch: number;
  next: number;
}

interface WriteState {
  protection: RecordProtection | null;
  nextSequence: number;
  /** Set while native code owns the epoch's sequence numbers: gives this layer the next one. */
  lender: (() => number | null) | null;
}

export class RecordLayer {
  readonly counters: RecordLayerCounters = {
    recordsIn: 0,
    bytesIn: 0,
    recordsOut: 0,
    bytesOut: 0,
    droppedReplay: 0,
    droppedAuth: 0,
    droppedMalformed: 0,
    droppedEpoch: 0,
  };
  private readonly receiver: RecordReceiver;
  /** Index = epoch. Older write epochs stay so a retransmitted flight keeps its original epochs (RFC 6347 4.2.4). */
  private readonly writeStates: WriteState[] = [{ protection: null, nextSequence: 0, lender: null }];
  private readEpochNumber = 0;
  private readProtection: RecordProtection | null = null;
  private readonly replayWindow: ReplayWindow;
  private pendingRead: RecordProtection | null = null;
  private pendingWrite: RecordProtection | null = null;

  constructor(receiver: RecordReceiver, options: { replayWindowSize?: number } = {}) {
    this.receiver = receiver;
    this.replayWindow = new ReplayWindow(options.replayWindowSize);
  }

  get readEpoch(): number {
    return this.readEpochNumber;
  }

  get writeEpoch(): number {
    return this.writeStates.length - 1;
  }

  get hasPendingRead(): boolean {
    return this.pendingRead !== null;
  }

  /** Keys for the next epoch, from the key exchange; neither direction uses them until activated. */
  setPendingKeys(suite: CipherSuite, keys: KeyBlock, role: Role): void {
    const client = new RecordProtection(suite, keys.clientWriteKey, keys.clientWriteIv);
    const server = new RecordProtection(suite, keys.serverWriteKey, keys.serverWriteIv);
    this.pendingWrite = role === 'client' ? client : server;
    this.pendingRead = role === 'client' ? server : client;
  }

  /** Our ChangeCipherSpec is sealed: later records go out in the next epoch, sequence from 0. */
  activateWrite(): void {
    if (this.pendingWrite === null) throw new Error('activateWrite() without pending keys: call setPendingKeys() first');
    if (this.writeEpoch >= MAX_EPOCH) throw new Error('write epoch exhausted');
    this.writeStates.push({ protection: this.pendingWrite, nextSequence: 0, lender: null });
    this.pendingWrite = null;
  }

  /** The peer's ChangeCipherSpec arrived: read the next epoch with a fresh replay window. */
  activateRead(): void {
    if (this.pendingRead === null) throw new Error('activateRead() without pending keys: call setPendingKeys() first');
    this.readProtection = this.pendingRead;
    this.pendingRead = null;
    this.readEpochNumber++;
    this.replayWindow.reset();
  }

  /**
   * The read epoch for native code, which then opens its application data: this layer still opens
   * the epoch's other records, each record number being checked by exactly one of the two windows
   * (the content type is authenticated). Null before the first protected epoch.
   */
  handOverRead(): ReadHandover | null {
    const protection = this.readProtection;
    if (protection === null) return null;
    const { highest, bits } = this.replayWindow.snapshot();
    return { aead: protection.aeadKind, key: protection.key, iv: protection.fixedIv, epoch: this.readEpochNumber, highest, bits };
  }

  /** The window native code kept for `epoch` comes back (see handOverRead); ignored once the epoch moved on. */
  takeBackRead(epoch: number, highest: number, bits: Uint32Array): void {
    if (epoch === this.readEpochNumber) this.replayWindow.absorb(highest, bits);
  }

  /**
   * The write epoch for native code, which from then on owns its sequence numbers: a record this
   * layer seals in that epoch takes its number from `take` (null when native code let go, which
   * takeBackWrite must come before). Null before the first protected epoch.
   */
  handOverWrite(take: () => number | null): WriteHandover | null {
    const epoch = this.writeEpoch;
    const state = this.writeStates[epoch]!;
    const protection = state.protection;
    if (protection === null) return null;
    state.lender = take;
    return { aead: protection.aeadKind, key: protection.key, iv: protection.fixedIv, epoch, next: state.nextSequence };
  }

  /** Native code let go of `epoch` with `next` as its next number: this layer numbers its records again. */
  takeBackWrite(epoch: number, next: number): void {
    const state = this.writeStates[epoch];
    if (state === undefined) return;
    state.lender = null;
    state.nextSequence = Math.max(state.nextSequence, next);
  }

  /** Records native code opened and sealed with the handed-over keys, so the counters cover the whole session. */
  countHandedOver(recordsIn: number, bytesIn: number, recordsOut: number, bytesOut: number): void {
    const counters = this.counters;
    counters.recordsIn += recordsIn;
    counters.bytesIn += bytesIn;
    counters.recordsOut += recordsOut;
    counters.bytesOut += bytesOut;
  }

  /**
   * Moves `epoch`'s next write sequence number forward, e.g. a server continuing the numbering of
   * the client's ClientHello (RFC 6347 4.2.1). Never backwards: a number must not be used twice.
   */
  setNextWriteSequence(epoch: number, next: number): void {
    const state = this.writeStates[epoch];
    if (state === undefined) throw new RangeError(`no write state for epoch ${epoch}`);
    if (!Number.isInteger(next) || next < state.nextSequence || next > MAX_SEQUENCE_NUMBER + 1) {
      throw new RangeError(`epoch ${epoch} cannot move its next sequence number from ${state.nextSequence} to ${next}`);
    }
    state.nextSequence = next;
  }

  /** Bytes a record of `epoch` adds to its payload (header, explicit nonce, tag): for MTU arithmetic. */
  overhead(epoch: number = this.writeEpoch): number {
    const protection = this.writeStates[epoch]?.protection;
    return RECORD_HEADER_LENGTH + (protection ? protection.expansion : 0);
  }

  /**
   * One whole record in a fresh buffer (the transport may send it later). `epoch` defaults to the
   * current write epoch; a retransmitted flight passes the epoch its records first went out in.
   * Throws RecordError for a payload over 2^14 bytes or an exhausted sequence space (caller bugs).
   */
  seal(contentType: ContentTypeValue, payload: Uint8Array, epoch: number = this.writeStates.length - 1): Buffer {
    const state = this.writeStates[epoch];
    if (state === undefined) throw new RangeError(`no write state for epoch ${epoch}`);
    if (payload.length > MAX_PLAINTEXT_LENGTH) {
      throw new RecordError('too_long', `record payload of ${payload.length} bytes exceeds ${MAX_PLAINTEXT_LENGTH}`);
    }
    const sequenceNumber = state.lender === null ? state.nextSequence : state.lender();
    if (sequenceNumber === null) throw new Error(`epoch ${epoch}'s sequence numbers were lent to native code and not taken back`);
    if (sequenceNumber > MAX_SEQUENCE_NUMBER) throw new RecordError('sequence_exhausted', `epoch ${epoch} used every 48-bit sequence number; the session needs a new handshake`);
    if (state.lender === null) state.nextSequence = sequenceNumber + 1;
    const protection = state.protection;
    const length = payload.length + (protection ? protection.expansion : 0);
    const record = allocateRecord(RECORD_HEADER_LENGTH + length);
    writeRecordHeader(record, 0, contentType, ProtocolVersion.dtls12, epoch, sequenceNumber, length);
    if (protection) protection.seal(record, payload);
    else record.set(payload, RECORD_HEADER_LENGTH);
    this.counters.recordsOut++;
    this.counters.bytesOut += payload.length;
    return record;
  }

  /**
   * Delivers every acceptable record of `datagram` to the receiver, in order, and counts the rest.
   * Decrypts in place, so the datagram's bytes are overwritten. Never throws on any input.
   */
  openDatagram(datagram: Buffer): void {
    const counters = this.counters;
    let offset = 0;
    while (offset < datagram.length) {
      const recordLength = checkRecordHeader(datagram, offset);
      if (typeof recordLength === 'string') {
        // The length of a bad header cannot be trusted, so the rest of the datagram goes with it.
        counters.droppedMalformed++;
        return;
      }
      const headerOffset = offset;
      offset += recordLength;
      const contentType = datagram[headerOffset] as ContentTypeValue;
      const epoch = (datagram[headerOffset + 3]! << 8) | datagram[headerOffset + 4]!;
      const fragmentLength = recordLength - RECORD_HEADER_LENGTH;
      if (epoch === 0) {
        this.deliverPlaintext(contentType, datagram, headerOffset, fragmentLength);
        continue;
      }
      const protection = this.readProtection;
      if (epoch !== this.readEpochNumber || protection === null) {
        counters.droppedEpoch++;
        continue;
      }
      const sequenceNumber = readUint48(datagram, headerOffset + 5);
      if (!this.replayWindow.check(sequenceNumber)) {
        counters.droppedReplay++;
        continue;
      }
      if (fragmentLength < protection.expansion || fragmentLength - protection.expansion > MAX_PLAINTEXT_LENGTH) {
        counters.droppedMalformed++;
        continue;
      }
      const plaintext = protection.open(datagram, headerOffset, fragmentLength);
      if (plaintext === null) {
        counters.droppedAuth++;
        continue;
      }
      // Authenticate before you mutate: the window moves only for records that opened.
      this.replayWindow.accept(sequenceNumber);
      counters.recordsIn++;
      counters.bytesIn += plaintext.length;
      this.receiver.onRecord(contentType, epoch, plaintext);
    }
  }

  /**
   * Epoch 0 is unauthenticated, so it gets no replay window (a forged high sequence number would
   * shut out the real peer); the handshake's message_seq handles duplicates. Application data is
   * never legitimate in epoch 0.
   */
  private deliverPlaintext(contentType: ContentTypeValue, datagram: Buffer, headerOffset: number, fragmentLength: number): void {
    if (contentType === ContentType.applicationData) {
      this.counters.droppedEpoch++;
      return;
    }
    if (fragmentLength > MAX_PLAINTEXT_LENGTH) {
      this.counters.droppedMalformed++;
      return;
    }
    const start = headerOffset + RECORD_HEADER_LENGTH;
    this.counters.recordsIn++;
    this.counters.bytesIn += fragmentLength;
    this.receiver.onRecord(contentType, 0, datagram.subarray(start, start + fragmentLength));
  }
}
