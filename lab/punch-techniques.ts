// The punching techniques the study compares and the lab they are compared in: two hosts behind
// NATs that keep stray conntrack state, each NAT one transit router from the internet.
import type { TopologyDescription } from './topology';
import type { PunchOptions } from './udp-probe';

/** Unreplied UDP conntrack entries live 30 s on Linux; the study lowers it so quiet periods stay short. */
export const STUDY_UDP_TIMEOUT_SECONDS = 5;
const QUIET_MS = (STUDY_UDP_TIMEOUT_SECONDS + 2) * 1_000;
/** Hops to our NAT's uplink (1, the NAT) plus one: the packet leaves our NAT and dies at the next router. */
export const OPENING_TTL = 2;

const stray = { inputFilter: false, udpTimeoutSeconds: STUDY_UDP_TIMEOUT_SECONDS };
export const STRAY_STATE_LAB: TopologyDescription = {
  public: ['rdv'],
  nats: {
    sa: { kind: 'cone', hosts: ['a'], ...stray },
    sb: { kind: 'cone', hosts: ['b'], ...stray },
    ya: { kind: 'symmetric', hosts: ['c'], ...stray },
    yb: { kind: 'cone', hosts: ['d'], ...stray },
    za: { kind: 'symmetric', hosts: ['e'], ...stray },
    zb: { kind: 'symmetric', hosts: ['f'], ...stray },
  },
  transit: { sa: 1, sb: 1, ya: 1, yb: 1, za: 1, zb: 1 },
};

const none: PunchOptions = { firstTtl: 0, waitMs: 0, intervalMs: 0, quietAfterMs: 0, quietMs: 0, giveUpMs: 6_000 };
/** What members do today: full-TTL packets at a steady pace from the moment they learn the peer. */
export const PLAIN_REPEATED: PunchOptions = { ...none, intervalMs: 1_000, giveUpMs: 8_000 };
/** The recommendation of docs/punching.md: open our NAT with a packet that dies before the peer's, wait, then send steadily. */
export const TTL_THEN_REPEATED: PunchOptions = { ...none, firstTtl: OPENING_TTL, waitMs: 1_000, intervalMs: 1_000, giveUpMs: 8_000 };

export const TECHNIQUES: Readonly<Record<string, PunchOptions>> = {
  'a: one send': none,
  'd: send every 1 s': PLAIN_REPEATED,
  'b: TTL 2, wait 1 s, one send': { ...none, firstTtl: OPENING_TTL, waitMs: 1_000 },
  'b+d: TTL 2, wait 1 s, every 1 s': TTL_THEN_REPEATED,
  'b+d: TTL 2, wait 3 s, every 1 s': { ...none, firstTtl: OPENING_TTL, waitMs: 3_000, intervalMs: 1_000, giveUpMs: 10_000 },
  'c+d: every 1 s, 3 s, quiet 7 s, again': { ...none, intervalMs: 1_000, quietAfterMs: 3_000, quietMs: QUIET_MS, giveUpMs: 22_000 },
  'b+c+d: TTL 2, wait 1 s, every 1 s, 3 s, quiet 7 s, again': { ...none, firstTtl: OPENING_TTL, waitMs: 1_000, intervalMs: 1_000, quietAfterMs: 3_000, quietMs: QUIET_MS, giveUpMs: 22_000 },
};
