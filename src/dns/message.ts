// The DNS messages a member's name server reads and writes (RFC 1035 section 4): a query with one
// question in, an authoritative answer of A, AAAA or PTR records out. Bytes in, values or a
// typed error out; no I/O.
//
//   header (12 bytes): ID (2) | QR opcode AA TC RD | RA Z RCODE | QDCOUNT | ANCOUNT | NSCOUNT | ARCOUNT
//   question: QNAME (length-prefixed labels, then 0) | QTYPE (2) | QCLASS (2)
//   answer:   NAME (a pointer to the question's name) | TYPE | CLASS | TTL (4) | RDLENGTH | RDATA

export const DNS_TYPE = { A: 1, PTR: 12, AAAA: 28, ANY: 255 } as const;
export const DNS_CLASS_IN = 1;
export const RCODE = { noError: 0, formErr: 1, servFail: 2, nxDomain: 3, notImp: 4, refused: 5 } as const;

const HEADER_BYTES = 12;
const MAX_NAME_BYTES = 255;
const MAX_LABEL_BYTES = 63;
/** A classic DNS reply over UDP fits in 512 bytes unless EDNS says more; ours always do. */
export const MAX_UDP_REPLY_BYTES = 512;

export class DnsFormatError extends Error {}

export interface DnsQuery {
  id: number;
  opcode: number;
  recursionDesired: boolean;
  /** Lower-cased labels, no trailing root label. */
  labels: string[];
  type: number;
  class: number;
  /** The question exactly as received (name, type, class), echoed in the reply. */
  questionBytes: Buffer;
}

export type DnsAnswer =
  | { type: typeof DNS_TYPE.A | typeof DNS_TYPE.AAAA; address: Buffer; ttl: number }
  | { type: typeof DNS_TYPE.PTR; name: string; ttl: number };

/**
 * Decodes a query. Throws DnsFormatError for anything that is not a query with exactly one
 * question; the caller answers FORMERR when at least the header was readable (see headerId).
 */
export function decodeQuery(message: Buffer): DnsQuery {
  if (message.length < HEADER_BYTES) throw new DnsFormatError(`a ${message.length}-byte message is shorter than the DNS header`);
  const flags = message.readUInt16BE(2);
  if (flags & 0x8000) throw new DnsFormatError('a response, not a query');
  const questions = message.readUInt16BE(4);
  if (questions !== 1) throw new DnsFormatError(`${questions} questions; one expected`);
  const labels: string[] = [];
  let at = HEADER_BYTES;
  let nameBytes = 1;
  for (;;) {
    if (at >= message.length) throw new DnsFormatError('the question name runs past the message');
    const length = message[at];
    if (length === 0) {
      at++;
      break;
    }
    // The question is the first name in a message: there is nothing earlier a pointer could name.
    if (length > MAX_LABEL_BYTES) throw new DnsFormatError('a compressed or over-long label in the question');
    nameBytes += length + 1;
    if (nameBytes > MAX_NAME_BYTES) throw new DnsFormatError(`the question name exceeds ${MAX_NAME_BYTES} bytes`);
    if (at + 1 + length > message.length) throw new DnsFormatError('a label runs past the message');
    labels.push(message.toString('latin1', at + 1, at + 1 + length).toLowerCase());
    at += 1 + length;
  }
  if (at + 4 > message.length) throw new DnsFormatError('the question type and class are missing');
  return {
    id: message.readUInt16BE(0),
    opcode: (flags >> 11) & 0x0f,
    recursionDesired: (flags & 0x0100) !== 0,
    labels,
    type: message.readUInt16BE(at),
    class: message.readUInt16BE(at + 2),
    questionBytes: Buffer.from(message.subarray(HEADER_BYTES, at + 4)),
  };
}

/** The ID of a message whose header is readable, for a FORMERR reply; null when it is too short or is a response. */
export function headerId(message: Buffer): number | null {
  if (message.length < HEADER_BYTES || message[2] & 0x80) return null;
  return message.readUInt16BE(0);
}

/** An authoritative reply: the question echoed (when known) and the answers, each naming the question's name by pointer. */
export function encodeReply(
  reply: { id: number; recursionDesired: boolean; rcode: number; questionBytes: Buffer | null; answers: readonly DnsAnswer[] },
): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(reply.id, 0);
  header.writeUInt16BE(0x8000 | 0x0400 | (reply.recursionDesired ? 0x0100 : 0) | reply.rcode, 2);
  header.writeUInt16BE(reply.questionBytes ? 1 : 0, 4);
  header.writeUInt16BE(reply.answers.length, 6);
  const parts: Buffer[] = [header];
  if (reply.questionBytes) parts.push(reply.questionBytes);
  for (const answer of reply.answers) {
    const data = answer.type === DNS_TYPE.PTR ? encodeName(answer.name) : answer.address;
    const fixed = Buffer.alloc(12);
    fixed.writeUInt16BE(0xc000 | HEADER_BYTES, 0);
    fixed.writeUInt16BE(answer.type, 2);
    fixed.writeUInt16BE(DNS_CLASS_IN, 4);
    fixed.writeUInt32BE(answer.ttl, 6);
    fixed.writeUInt16BE(data.length, 10);
    parts.push(fixed, data);
  }
  return Buffer.concat(parts);
}

/** A dotted name as length-prefixed labels ending in the root label. */
export function encodeName(name: string): Buffer {
  const labels = name.split('.').filter((label) => label.length > 0);
  const parts: Buffer[] = [];
  for (const label of labels) {
    if (label.length > MAX_LABEL_BYTES) throw new DnsFormatError(`label "${label}" exceeds ${MAX_LABEL_BYTES} bytes`);
    parts.push(Buffer.from([label.length]), Buffer.from(label, 'latin1'));
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}
