// PeerStore.resolveRace, the one place races are decided: every outcome its doc comment lists,
// on real (unstarted) DTLS sessions and real peers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DtlsSession } from '../../src/dtls/index';
import type { Role } from '../../src/dtls/index';
import { Attempt } from '../../src/member/attempt';
import { Path, Peer } from '../../src/member/peer';
import { IllegalTransition } from '../../src/member/state-machine';
import { PeerStore } from '../../src/member/peer-store';
import { parseVpnAddress, type VpnAddress } from '../../src/member/vpn-address';
import type { Endpoint } from '../../src/net/transport';
import { capturedLogger } from './harness';

const { log } = capturedLogger();
const NOW = 1_000_000;
const ep = (text: string): Endpoint => {
  const [address, port] = text.split(':');
  return { address, port: Number(port) };
};
const vpn = (text: string): VpnAddress => parseVpnAddress(text)!;

function fixture(): { store: PeerStore; unlisted: Set<Peer>; sessions: DtlsSession[] } {
  const unlisted = new Set<Peer>();
  const store = new PeerStore(vpn('192.168.50.1'), { maxPending: 3, staleAfterMs: 1000 }, (peer) => !unlisted.has(peer));
  return { store, unlisted, sessions: [] };
}

function path(f: { sessions: DtlsSession[] }, remote: string, role: Role, peer: Peer | null): Path {
  const session = new DtlsSession({ role, psk: Buffer.from('k'), identity: '192.168.50.1', send: () => {} }, { onHandshakeComplete() {}, onData() {}, onClose() {} });
  f.sessions.push(session);
  return new Path(ep(remote), role, session, peer, NOW);
}

function listedPeer(store: PeerStore, outside: string, role: Role = 'client'): Peer {
  const peer = new Peer(ep(outside), role, NOW);
  store.peers.set(peer.outsideKey, peer);
  return peer;
}

function establish(f: ReturnType<typeof fixture>, peer: Peer, remote: string, ip: string, kind: 'meshboi' | 'original' = 'meshboi'): Path {
  const established = path(f, remote, peer.role, peer);
  f.store.activate(peer, established, vpn(ip));
  peer.kind = kind;
  peer.lastAuthenticatedAt = NOW;
  return established;
}

function done(f: { sessions: DtlsSession[] }): void {
  for (const session of f.sessions) session.abort();
}

test('a ClientHello is accepted from an unknown address, and for the peer owning a LAN endpoint', () => {
  const f = fixture();
  const bob = listedPeer(f.store, '203.0.113.2:5000');
  bob.locals = [ep('10.0.0.3:5000')];
  assert.deepEqual(f.store.resolveRace({ kind: 'client_hello', remote: ep('198.51.100.9:1') }, NOW), { action: 'accept', peer: null });
  const outcome = f.store.resolveRace({ kind: 'client_hello', remote: ep('10.0.0.3:5000') }, NOW);
  assert.equal(outcome.action, 'accept');
  assert.equal(outcome.action === 'accept' && outcome.peer, bob);
  done(f);
});

test('a ClientHello meeting our own silent client handshake yields; one meeting a progressing handshake is ignored', () => {
  const f = fixture();
  const bob = listedPeer(f.store, '203.0.113.2:5000');
  const ours = path(f, '203.0.113.2:5000', 'client', bob);
  f.store.addPending(ours);
  assert.deepEqual(f.store.resolveRace({ kind: 'client_hello', remote: ours.remote }, NOW), { action: 'yield', path: ours });
  ours.fed = 1;
  assert.equal(f.store.resolveRace({ kind: 'client_hello', remote: ours.remote }, NOW).action, 'ignore');
  done(f);
});

test('a ClientHello from an established address starts a replacement; beyond the pending limit it is ignored', () => {
  const f = fixture();
  const bob = listedPeer(f.store, '203.0.113.2:5000', 'server');
  establish(f, bob, '203.0.113.2:5000', '192.168.50.2');
  assert.deepEqual(f.store.resolveRace({ kind: 'client_hello', remote: ep('203.0.113.2:5000') }, NOW), { action: 'accept_replacement', peer: bob });
  for (const remote of ['198.51.100.1:1', '198.51.100.2:1', '198.51.100.3:1']) f.store.addPending(path(f, remote, 'server', null));
  const outcome = f.store.resolveRace({ kind: 'client_hello', remote: ep('198.51.100.4:1') }, NOW);
  assert.deepEqual(outcome, { action: 'ignore', reason: 'too many handshakes in progress' });
  done(f);
});

test('a completed handshake with a bad identity or our own VPN IP is rejected', () => {
  const f = fixture();
  const newcomer = path(f, '198.51.100.9:1', 'server', null);
  assert.equal(f.store.resolveRace({ kind: 'handshake_complete', path: newcomer, identity: 'not-an-ip' }, NOW).action, 'reject');
  const own = f.store.resolveRace({ kind: 'handshake_complete', path: newcomer, identity: '192.168.50.1' }, NOW);
  assert.deepEqual(own, { action: 'reject', reason: 'peer claims our own VPN IP 192.168.50.1' });
  done(f);
});

test('a completed handshake installs a new peer, replaces a session on the same address, and adds or discards other paths by role', () => {
  const f = fixture();
  const fresh = path(f, '198.51.100.9:1', 'server', null);
  const installed = f.store.resolveRace({ kind: 'handshake_complete', path: fresh, identity: '192.168.50.9' }, NOW);
  assert.equal(installed.action, 'install');

  const bob = listedPeer(f.store, '203.0.113.2:5000', 'server');
  bob.locals = [ep('10.0.0.3:5000')];
  const old = establish(f, bob, '203.0.113.2:5000', '192.168.50.2');
  const again = path(f, '203.0.113.2:5000', 'server', bob);
  assert.deepEqual(f.store.resolveRace({ kind: 'handshake_complete', path: again, identity: '192.168.50.2' }, NOW), {
    action: 'replace',
    peer: bob,
    old,
    vpn: vpn('192.168.50.2'),
  });
  const lanAsServer = path(f, '10.0.0.3:5000', 'server', bob);
  assert.deepEqual(f.store.resolveRace({ kind: 'handshake_complete', path: lanAsServer, identity: '192.168.50.2' }, NOW), { action: 'add_path', peer: bob });
  const lanAsClient = path(f, '10.0.0.3:5000', 'client', bob);
  assert.equal(f.store.resolveRace({ kind: 'handshake_complete', path: lanAsClient, identity: '192.168.50.2' }, NOW).action, 'discard');
  done(f);
});

test('a VPN IP claimed by a second live peer is a conflict; held by a stale peer it is taken over', () => {
  const f = fixture();
  const first = listedPeer(f.store, '203.0.113.2:5000');
  establish(f, first, '203.0.113.2:5000', '192.168.50.2');
  const second = listedPeer(f.store, '203.0.113.3:5000');
  const claim = path(f, '203.0.113.3:5000', 'client', second);
  const ask = (now: number): string => f.store.resolveRace({ kind: 'handshake_complete', path: claim, identity: '192.168.50.2' }, now).action;
  assert.equal(ask(NOW + 500), 'conflict', 'the first holder is listed and was heard from recently: keep it');
  const refused = f.store.resolveRace({ kind: 'handshake_complete', path: claim, identity: '192.168.50.2' }, NOW + 500);
  assert.equal(refused.action === 'conflict' && refused.staleAt, NOW + 1000, 'says when the silent holder turns stale, so the retry comes then');
  assert.equal(ask(NOW + 1500), 'take_over', 'one of ours silent beyond staleAfterMs: it restarted elsewhere');
  first.kind = 'original';
  assert.equal(ask(NOW + 500), 'conflict', 'an original holder heard from recently keeps its VPN IP');
  const keptOriginal = f.store.resolveRace({ kind: 'handshake_complete', path: claim, identity: '192.168.50.2' }, NOW + 500);
  assert.equal(keptOriginal.action === 'conflict' && keptOriginal.staleAt, NOW + 1000, 'and turns stale by the same silence as ours');
  assert.equal(ask(NOW + 1500), 'take_over', 'an original restarted on a new port: its old session stays silent for good');
  claim.info = { peerIdentity: '192.168.50.2', cipherSuite: 0xc0a8, extendedMasterSecret: true, peerIsMeshboi: false };
  assert.equal(ask(NOW + 500), 'take_over', 'an original claimant is never refused: it would keep its session and never handshake again');
  claim.info = null;
  f.unlisted.add(first);
  assert.equal(ask(NOW + 500), 'take_over', 'no rolodex lists the holder any more: stale even if heard from recently');
  done(f);
});

test('a ClientHello from an unknown port on the IP of the one peer we are connecting to is for that peer, unless the IP hosts several peers', () => {
  const f = fixture();
  const symmetric = listedPeer(f.store, '203.0.113.7:5000', 'server');
  const fromNewPort = (): Peer | null => {
    const outcome = f.store.resolveRace({ kind: 'client_hello', remote: ep('203.0.113.7:41000') }, NOW);
    return outcome.action === 'accept' ? outcome.peer : null;
  };
  assert.equal(fromNewPort(), symmetric, 'a symmetric NAT sends its ClientHello from a port the rolodex never saw');
  establish(f, symmetric, '203.0.113.7:5000', '192.168.50.7');
  assert.equal(fromNewPort(), null, 'an established peer is not connecting any more: a stranger, adopted only by its handshake');
  const g = fixture();
  listedPeer(g.store, '203.0.113.7:5000', 'server');
  listedPeer(g.store, '203.0.113.7:5001', 'server');
  const outcome = g.store.resolveRace({ kind: 'client_hello', remote: ep('203.0.113.7:41000') }, NOW);
  assert.deepEqual(outcome, { action: 'accept', peer: null }, 'two members behind one NAT: the sender could be either');
  done(f);
});

test('a handshake completing for a peer closed meanwhile is discarded', () => {
  const f = fixture();
  const bob = listedPeer(f.store, '203.0.113.2:5000');
  const late = path(f, '203.0.113.2:5000', 'client', bob);
  bob.close();
  assert.deepEqual(f.store.resolveRace({ kind: 'handshake_complete', path: late, identity: '192.168.50.2' }, NOW), {
    action: 'discard',
    reason: 'peer closed during the handshake',
  });
  done(f);
});

test('the attempt state machine moves only along its edges, throws on any other move, and logs every move', () => {
  const { log: machineLog, capture } = capturedLogger();
  const attempt = new Attempt(machineLog, '203.0.113.2:5000', 'punching', 0);
  assert.throws(() => attempt.transition('established'), IllegalTransition, 'cannot skip the handshake');
  assert.equal(attempt.state, 'punching', 'a refused move changes nothing');
  attempt.transition('handshaking');
  attempt.transition('punching');
  assert.equal(attempt.state, 'punching', 'a failed round goes back to punching');
  attempt.transition('handshaking');
  attempt.transition('established');
  assert.equal(attempt.finished, true);
  assert.throws(() => attempt.transition('punching'), IllegalTransition, 'an established attempt is over');
  assert.throws(() => attempt.transition('abandoned'), IllegalTransition, 'and cannot be abandoned after the fact');
  const abandoned = new Attempt(machineLog, '203.0.113.3:5000', 'handshaking', 0);
  abandoned.transition('abandoned');
  assert.throws(() => abandoned.transition('handshaking'), IllegalTransition, 'abandoned is terminal');
  assert.equal(capture.count('attempt 203.0.113.2:5000: was punching, now handshaking'), 2);
  assert.equal(capture.lines.length, 5);
});

test('a peer is established while it has an active path, else what its attempt does; closing twice is a bug', () => {
  const f = fixture();
  const bob = listedPeer(f.store, '203.0.113.2:5000');
  assert.equal(bob.state, 'punching');
  bob.attempt = new Attempt(log, bob.outsideKey, 'handshaking', 0);
  assert.equal(bob.state, 'handshaking');
  establish(f, bob, '203.0.113.2:5000', '192.168.50.2');
  assert.equal(bob.state, 'established', 'a replacement attempt beside the session does not hide it');
  bob.close();
  assert.equal(bob.state, 'closed');
  assert.throws(() => bob.close(), /closed twice/);
  done(f);
});
