// Control records: application_data between our own members that carries no IP packet. An IP
// packet's first nibble is its version (4 or 6), so a record whose first byte is below 0x10 is
// never one; that byte names the record's type. Original peers never receive one.
import type { Peer } from './peer';

/** The types in use; docs/member.md lists them. A receiver ignores a type it does not know. */
export const CONTROL_TYPE = {
  /** Our extra VPN addresses, name, advertised routes and mode (see peer-info.ts). */
  peerInfo: 0x01,
} as const;

/** Whether an authenticated, non-empty record is a control record rather than an IP packet. */
export function isControlRecord(plaintext: Uint8Array): boolean {
  return plaintext[0] < 0x10;
}

export type ControlHandler = (peer: Peer, record: Buffer) => void;

/** Hands each control record to the handler of its type; unknown types are counted and dropped. */
export class ControlRecords {
  private readonly handlers = new Map<number, ControlHandler>();
  unknown = 0;

  on(type: number, handler: ControlHandler): void {
    if (type >= 0x10 || this.handlers.has(type)) throw new Error(`control record type 0x${type.toString(16)} is taken or not below 0x10`);
    this.handlers.set(type, handler);
  }

  receive(peer: Peer, record: Buffer): void {
    const handler = this.handlers.get(record[0]);
    if (handler) handler(peer, record);
    else this.unknown++;
  }
}
