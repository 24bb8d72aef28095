// Flights (RFC 6347 4.2.4): the messages one side sends before waiting for the other, packed into
// datagrams, retransmitted with a doubling timer until the peer answers, then given up on.
//
//   PREPARING -> SENDING -> WAITING -- timer expires, or the peer repeats its flight --> SENDING
//                                   -- the peer's next flight arrives --> PREPARING (our next one) or FINISHED
//   FINISHED: our last flight; re-sent only when the peer repeats the flight it answers.
import type { Clock, ClockTimer } from '../../clock';
import { ContentType } from '../record/header';
import type { RecordLayer } from '../record/record-layer';
import { encodeHandshakeFragment, HANDSHAKE_HEADER_LENGTH } from '../handshake/header';
import { fragmentMessage, type HandshakeMessage } from '../handshake/fragmentation';

export type FlightNumber = 1 | 2 | 3 | 4 | 5 | 6;
export type FlightState = 'preparing' | 'sending' | 'waiting' | 'finished';

export type FlightItem =
  | { kind: 'handshake'; epoch: number; message: HandshakeMessage }
  | { kind: 'change_cipher_spec'; epoch: number };

export interface Flight {
  number: FlightNumber;
  items: FlightItem[];
  /** The handshake's last flight: nothing answers it, so no timer runs for it. */
  last: boolean;
}

/**
 * Seals a flight into datagrams of at most `maxDatagram` bytes, fragmenting handshake messages
 * that do not fit and packing several records per datagram. Each call seals anew, so a
 * retransmission gets fresh record sequence numbers but keeps each item's epoch (RFC 6347 4.2.4).
 */
export function packFlight(flight: Flight, records: RecordLayer, maxDatagram: number): Buffer[] {
  const datagrams: Buffer[] = [];
  let pending: Buffer[] = [];
  let pendingLength = 0;
  const add = (record: Buffer): void => {
    if (pendingLength + record.length > maxDatagram && pending.length > 0) {
      datagrams.push(Buffer.concat(pending));
      pending = [];
      pendingLength = 0;
    }
    pending.push(record);
    pendingLength += record.length;
  };
  for (const item of flight.items) {
    if (item.kind === 'change_cipher_spec') {
      add(records.seal(ContentType.changeCipherSpec, CHANGE_CIPHER_SPEC, item.epoch));
      continue;
    }
    const room = maxDatagram - records.overhead(item.epoch) - HANDSHAKE_HEADER_LENGTH;
    for (const fragment of fragmentMessage(item.message, room)) {
      add(records.seal(ContentType.handshake, encodeHandshakeFragment(fragment), item.epoch));
    }
  }
  if (pending.length > 0) datagrams.push(Buffer.concat(pending));
  return datagrams;
}

/** RFC 5246 7.1: ChangeCipherSpec is the single byte 1. */
export const CHANGE_CIPHER_SPEC = Buffer.of(1);

export interface RetransmitOptions {
  initialMs: number;
  maxTries: number;
  /** Seals and sends the flight now. */
  transmit(flight: Flight): void;
  /** Called once when a flight went unanswered `maxTries` times; the timer is stopped. */
  giveUp(flight: Flight, tries: number): void;
  /** Where the retransmission timer runs. */
  clock: Clock;
}

/** RFC 6347 4.2.4.1: the timer doubles per retransmission up to 60 s. */
const MAX_TIMEOUT_MS = 60_000;
const REPEAT_GAP_MS = 100;

/**
 * Owns our current flight and its timer. A peer repeating its flight makes us re-send ours at most
 * once per REPEAT_GAP_MS, so replayed datagrams cannot turn us into an amplifier.
 */
export class FlightSender {
  private flightState: FlightState = 'preparing';
  private flight: Flight | null = null;
  private tries = 0;
  private timeoutMs: number;
  private timer: ClockTimer | null = null;
  private lastRepeatAnswer = 0;
  retransmits = 0;

  constructor(private readonly options: RetransmitOptions) {
    this.timeoutMs = options.initialMs;
  }

  get state(): FlightState {
    return this.flightState;
  }

  send(flight: Flight): void {
    this.stopTimer();
    this.flight = flight;
    this.tries = 1;
    this.timeoutMs = this.options.initialMs;
    this.flightState = 'sending';
    this.transmit();
  }

  /**
   * The peer sent again a flight we already have: ours was probably lost. Such re-sends neither
   * count toward maxTries nor restart the timer, which bounds how long we wait in all.
   */
  peerRepeated(now: number = this.options.clock.now()): void {
    if (!this.flight || this.flightState === 'preparing') return;
    if (now - this.lastRepeatAnswer < Math.min(REPEAT_GAP_MS, this.options.initialMs)) return;
    this.lastRepeatAnswer = now;
    this.retransmits++;
    this.flightState = 'sending';
    this.transmit();
  }

  /** The peer's answer arrived in full: we prepare our next flight. */
  peerAnswered(): void {
    this.stopTimer();
    this.flightState = 'preparing';
  }

  /** The handshake is over and nothing of ours needs answering again: forget the flight. */
  stop(): void {
    this.stopTimer();
    this.flight = null;
    this.flightState = 'finished';
  }

  /** Sends the flight; the timer keeps running if it is, so a chatty peer cannot keep us waiting forever. */
  private transmit(): void {
    const flight = this.flight!;
    this.options.transmit(flight);
    if (flight.last) {
      this.flightState = 'finished';
      return;
    }
    this.flightState = 'waiting';
    this.timer ??= this.options.clock.setTimeout(() => this.expired(), this.timeoutMs);
  }

  private expired(): void {
    this.timer = null;
    const flight = this.flight!;
    if (this.tries >= this.options.maxTries) {
      this.flightState = 'finished';
      this.options.giveUp(flight, this.tries);
      return;
    }
    this.tries++;
    this.timeoutMs = Math.min(this.timeoutMs * 2, MAX_TIMEOUT_MS);
    this.retransmits++;
    this.flightState = 'sending';
    this.transmit();
  }

  private stopTimer(): void {
    if (this.timer) this.options.clock.clear(this.timer);
    this.timer = null;
  }
}
