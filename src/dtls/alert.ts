// Alert messages (RFC 5246 7.2): two bytes, a level and a description, in a record of type 21.
//
//   +--------+-------------+
//   | level  | description |
//   +--------+-------------+
import { decodeWith, type Decoded } from './handshake/bytes';

export const AlertLevel = { warning: 1, fatal: 2 } as const;

export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  handshake_failure: 40,
  illegal_parameter: 47,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  unknown_psk_identity: 115,
} as const;

export interface Alert {
  level: number;
  description: number;
}

export function encodeAlert(alert: Alert): Buffer {
  return Buffer.of(alert.level, alert.description);
}

export function decodeAlert(bytes: Uint8Array): Decoded<Alert> {
  return decodeWith(bytes, 'alert', (r) => ({ level: r.u8(), description: r.u8() }));
}

const names = new Map<number, string>(Object.entries(AlertDescription).map(([name, value]) => [value, name]));

/** "bad_record_mac (20)", or "alert 99" for a description we have no name for. */
export function alertName(description: number): string {
  const name = names.get(description);
  return name ? `${name} (${description})` : `alert ${description}`;
}
