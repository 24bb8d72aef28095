// Sums of the DTLS engine's per-session counters, for a peer and for the member: sessions end and
// are replaced, but what they counted stays in the totals, so a Prometheus counter never goes back.
import type { SessionCounters } from '../dtls/index';

export function emptySessionCounters(): SessionCounters {
  return { recordsIn: 0, recordsOut: 0, bytesIn: 0, bytesOut: 0, droppedReplay: 0, droppedAuth: 0, droppedMalformed: 0, retransmits: 0 };
}

/** Adds `more` into `sum`, field by field. */
export function addSessionCounters(sum: SessionCounters, more: SessionCounters): SessionCounters {
  for (const key of Object.keys(sum) as Array<keyof SessionCounters>) sum[key] += more[key];
  return sum;
}
