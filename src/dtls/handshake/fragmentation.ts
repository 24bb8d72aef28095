// Handshake fragmentation (RFC 6347 4.2.3): splitting our messages to fit a datagram, and
// reassembling the peer's from fragments that may arrive out of order, twice, or overlapping.
import type { HandshakeFragment } from './header';

export interface HandshakeMessage {
  msgType: number;
  messageSeq: number;
  body: Buffer;
}

/** Splits one message into fragments whose bodies hold at most `maxFragmentBody` bytes. */
export function fragmentMessage(message: HandshakeMessage, maxFragmentBody: number): HandshakeFragment[] {
  if (maxFragmentBody < 1) throw new RangeError(`a handshake fragment must carry at least one byte, not ${maxFragmentBody}`);
  const { msgType, messageSeq, body } = message;
  const fragments: HandshakeFragment[] = [];
  let offset = 0;
  do {
    const end = Math.min(body.length, offset + maxFragmentBody);
    fragments.push({ msgType, length: body.length, messageSeq, fragmentOffset: offset, body: body.subarray(offset, end) });
    offset = end;
  } while (offset < body.length);
  return fragments;
}

/**
 * What happened to a fragment: 'old' means its message was already delivered, so the peer is
 * repeating a flight (ours was probably lost); 'rejected' means it contradicts what we hold or
 * lies too far ahead to buffer.
 */
export type FragmentOutcome = 'buffered' | 'duplicate' | 'old' | 'rejected';

/** Messages larger than this are refused: ours and our peers' are a few hundred bytes. */
const MAX_HANDSHAKE_MESSAGE = 16_384;
/** How many messages beyond the next expected one are buffered. */
const MAX_MESSAGES_AHEAD = 8;

class PartialMessage {
  readonly body: Buffer;
  /** Received byte ranges, sorted and merged: [start, end) pairs. */
  private ranges: Array<[number, number]> = [];

  constructor(readonly msgType: number, length: number) {
    this.body = Buffer.alloc(length);
  }

  /** Returns false when the fragment brought no new byte. */
  add(offset: number, bytes: Buffer): boolean {
    const end = offset + bytes.length;
    if (this.ranges.length > 0 && this.covers(offset, end)) return false;
    bytes.copy(this.body, offset);
    const merged: Array<[number, number]> = [];
    let start = offset;
    let stop = end;
    for (const [a, b] of this.ranges) {
      if (b < start || a > stop) merged.push([a, b]);
      else {
        start = Math.min(start, a);
        stop = Math.max(stop, b);
      }
    }
    merged.push([start, stop]);
    merged.sort((x, y) => x[0] - y[0]);
    this.ranges = merged;
    return true;
  }

  get complete(): boolean {
    return this.ranges.length > 0 && this.covers(0, this.body.length);
  }

  private covers(start: number, end: number): boolean {
    return this.ranges.some(([a, b]) => a <= start && b >= end);
  }
}

export class Reassembler {
  private readonly pending = new Map<number, PartialMessage>();

  /** @param nextSeq the message_seq of the first message we expect from the peer */
  constructor(private nextSeq = 0) {}

  get expectedSeq(): number {
    return this.nextSeq;
  }

  /**
   * A stateless server's first message from the client may be its second ClientHello
   * (message_seq 1): expect the sequence from there, forgetting anything buffered before it.
   */
  skipTo(messageSeq: number): void {
    if (messageSeq <= this.nextSeq) return;
    for (const seq of this.pending.keys()) if (seq < messageSeq) this.pending.delete(seq);
    this.nextSeq = messageSeq;
  }

  add(fragment: HandshakeFragment): FragmentOutcome {
    if (fragment.messageSeq < this.nextSeq) return 'old';
    if (fragment.messageSeq >= this.nextSeq + MAX_MESSAGES_AHEAD || fragment.length > MAX_HANDSHAKE_MESSAGE) return 'rejected';
    let partial = this.pending.get(fragment.messageSeq);
    if (!partial) {
      partial = new PartialMessage(fragment.msgType, fragment.length);
      this.pending.set(fragment.messageSeq, partial);
    } else if (partial.msgType !== fragment.msgType || partial.body.length !== fragment.length) {
      return 'rejected';
    }
    return partial.add(fragment.fragmentOffset, fragment.body) ? 'buffered' : 'duplicate';
  }

  /** The next message in sequence once all its bytes are here, else null. */
  takeNext(): HandshakeMessage | null {
    const partial = this.pending.get(this.nextSeq);
    if (!partial || !partial.complete) return null;
    this.pending.delete(this.nextSeq);
    return { msgType: partial.msgType, messageSeq: this.nextSeq++, body: partial.body };
  }
}
