// Peer-info resends: with backoff while a peer of ours has not said "heard" (a member from before
// peer-info never will), none once it has, and afresh with each new session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock';
import { ControlRecords } from '../../src/member/control-record';
import { Peer, type Path } from '../../src/member/peer';
import { decodePeerInfo, encodePeerInfo } from '../../src/member/peer-info';
import { PeerInfoExchange } from '../../src/member/peer-info-exchange';
import { PeerStore } from '../../src/member/peer-store';
import { TimerSet } from '../../src/member/timers';
import { parseVpnAddress } from '../../src/member/vpn-address';
import { capturedLogger } from './harness';

const RESEND_MS = 5_000;

function setUp(): { clock: ManualClock; peer: Peer; exchange: PeerInfoExchange; control: ControlRecords; sent: Buffer[] } {
  const clock = new ManualClock();
  const store = new PeerStore(parseVpnAddress('192.168.50.1')!, { maxPending: 3, staleAfterMs: 1000 }, () => true);
  const peer = new Peer({ address: '192.0.2.20', port: 4000 }, 'client', clock.now());
  peer.kind = 'meshboi';
  const sent: Buffer[] = [];
  // The session's send is all the exchange uses of a path.
  peer.active = { session: { send: (record: Buffer) => sent.push(Buffer.from(record)) } } as unknown as Path;
  store.peers.set(peer.outsideKey, peer);
  const events = { routesChanged: () => {}, modeMismatch: () => {} };
  const exchange = new PeerInfoExchange(store, { addresses: [], name: 'alice', routes: [], mode: 'tun' }, false, new TimerSet(clock), events, capturedLogger().log);
  const control = new ControlRecords();
  exchange.attach(control, RESEND_MS);
  return { clock, peer, exchange, control, sent };
}

test('a peer that never says "heard" gets our peer-info with backoff, then no more until its next session', () => {
  const { clock, peer, exchange, sent } = setUp();
  exchange.established(peer);
  assert.equal(sent.length, 1);
  const sentAt: number[] = [];
  const start = clock.now();
  for (let second = 1; second <= 3_600; second++) {
    const before = sent.length;
    clock.advance(1_000);
    if (sent.length > before) sentAt.push((clock.now() - start) / 1_000);
  }
  // Each wait twice the one before (on the resend timer's 5 s grid): 5, 10, 20, 40, 80, 160 s.
  assert.deepEqual(sentAt, [5, 15, 35, 75, 155, 315]);
  exchange.established(peer);
  clock.advance(RESEND_MS);
  assert.equal(sent.length, 1 + 6 + 2, 'a new session starts the resends again');
});

test('once the peer says "heard" nothing is resent, and a peer that has not heard ours is answered', () => {
  const { clock, peer, exchange, control, sent } = setUp();
  exchange.established(peer);
  control.receive(peer, encodePeerInfo({ addresses: [], name: 'bob', routes: [], mode: 'tun', heard: false }));
  assert.equal(sent.length, 2, 'answered at once');
  assert.equal(decodePeerInfo(sent[1]).heard, true);
  control.receive(peer, encodePeerInfo({ addresses: [], name: 'bob', routes: [], mode: 'tun', heard: true }));
  clock.advance(600_000);
  assert.equal(sent.length, 2);
});
