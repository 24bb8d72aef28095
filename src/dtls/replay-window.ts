// Anti-replay window for one epoch (RFC 6347 4.1.2.6): a sliding bitmap over 48-bit sequence numbers.
// Sequence numbers stay below 2^48 < 2^53, so plain number arithmetic is exact; no 32-bit bitwise
// operator ever touches a sequence number, only bit positions inside the bitmap.

export const REPLAY_WINDOW_SIZE = 256;
const MAX_SEQUENCE = 2 ** 48 - 1;

export class ReplayWindow {
  readonly size: number;
  private readonly bits: Uint32Array;
  /** Highest sequence number accepted so far; -1 before the first. */
  private highest = -1;

  constructor(size: number = REPLAY_WINDOW_SIZE) {
    if (!Number.isInteger(size) || size < 64 || size % 32 !== 0) {
      throw new RangeError(`replay window size must be a multiple of 32 and at least 64, got ${size}`);
    }
    this.size = size;
    this.bits = new Uint32Array(size / 32);
  }

  /** True when `sequence` is neither seen nor older than the window. Changes nothing. */
  check(sequence: number): boolean {
    if (sequence > this.highest) return sequence <= MAX_SEQUENCE;
    if (this.highest - sequence >= this.size) return false;
    const position = sequence % this.size;
    return (this.bits[position >>> 5]! & (1 << (position & 31))) === 0;
  }

  /** Marks `sequence` as seen. Only call after the record authenticated and `check` passed. */
  accept(sequence: number): void {
    if (sequence > this.highest) {
      if (sequence - this.highest >= this.size) {
        this.bits.fill(0);
      } else {
        for (let skipped = this.highest + 1; skipped < sequence; skipped++) this.clear(skipped % this.size);
      }
      this.highest = sequence;
    }
    const position = sequence % this.size;
    this.bits[position >>> 5]! |= 1 << (position & 31);
  }

  /** Forgets everything, for a new epoch whose sequence numbers start again at 0. */
  reset(): void {
    this.bits.fill(0);
    this.highest = -1;
  }

  /** A copy of the window, for native code that keeps it from here on (ReadHandover). */
  snapshot(): { highest: number; bits: Uint32Array } {
    return { highest: this.highest, bits: this.bits.slice() };
  }

  /**
   * Takes in what a window of the same size kept elsewhere: afterwards every number either
   * accepted counts as seen. Ascending, so each accept() clears only numbers neither had seen.
   */
  absorb(highest: number, bits: Uint32Array): void {
    if (bits.length !== this.bits.length) throw new RangeError(`a replay window of ${bits.length * 32} bits cannot join one of ${this.size}`);
    for (let sequence = Math.max(0, highest - this.size + 1); sequence <= highest; sequence++) {
      const position = sequence % this.size;
      if ((bits[position >>> 5]! & (1 << (position & 31))) !== 0) this.accept(sequence);
    }
  }

  get highestAccepted(): number {
    return this.highest;
  }

  private clear(position: number): void {
    this.bits[position >>> 5]! &= ~(1 << (position & 31));
  }
}
