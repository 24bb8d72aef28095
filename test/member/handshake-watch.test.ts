// Handshake outcomes by cause: which closes mean the PSKs differ, what counts as a failure, and a
// PSK warning once per peer per interval however often the handshake is retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock';
import { AlertDescription, DtlsSession } from '../../src/dtls/index';
import { handshakeFailureCause, HandshakeWatch, PSK_WARNING_INTERVAL_MS } from '../../src/member/handshake-watch';
import { Path, Peer } from '../../src/member/peer';
import { capturedLogger } from './harness';

test('bad_record_mac and decrypt_error alerts, and an unanswered Finished, mean the PSKs differ', () => {
  assert.equal(handshakeFailureCause({ kind: 'alert', description: AlertDescription.bad_record_mac, message: '' }), 'psk_mismatch');
  assert.equal(handshakeFailureCause({ kind: 'alert', description: AlertDescription.decrypt_error, message: '' }), 'psk_mismatch');
  assert.equal(handshakeFailureCause({ kind: 'handshake_timeout', flight: 5, message: '' }), 'psk_mismatch');
  assert.equal(handshakeFailureCause({ kind: 'handshake_timeout', flight: 1, message: '' }), 'timeout');
  assert.equal(handshakeFailureCause({ kind: 'handshake_timeout', flight: 3, message: '' }), 'timeout');
  assert.equal(handshakeFailureCause({ kind: 'alert', description: AlertDescription.handshake_failure, message: '' }), 'refused');
  assert.equal(handshakeFailureCause({ kind: 'close_notify' }), 'closed');
});

test('failures count per peer and member-wide, a session that was established is no failure, and the PSK warning repeats only after its interval', () => {
  const clock = new ManualClock();
  const { log, capture } = capturedLogger();
  const watch = new HandshakeWatch(clock, log);
  const peer = new Peer({ address: '192.0.2.20', port: 4000 }, 'client', clock.now());
  const session = new DtlsSession(
    { role: 'client', psk: Buffer.from('k'), identity: '192.168.50.1', send: () => {}, clock },
    { onHandshakeComplete: () => {}, onData: () => {}, onClose: () => {} },
  );
  const path = new Path(peer.outside, 'client', session, peer, clock.now());
  const mismatch = { kind: 'alert', description: AlertDescription.bad_record_mac, message: 'the PSKs differ' } as const;

  for (let retry = 0; retry < 5; retry++) watch.closed(path, mismatch);
  watch.closed(path, { kind: 'handshake_timeout', flight: 1, message: 'no answer' });
  assert.equal(watch.forPeer(peer).failed.psk_mismatch, 5);
  assert.equal(watch.forPeer(peer).failed.timeout, 1);
  assert.equal(watch.total.failed.psk_mismatch, 5);
  assert.equal(capture.count(/the PSKs differ/), 1, 'one warning for five retries');

  clock.advance(PSK_WARNING_INTERVAL_MS);
  watch.closed(path, mismatch);
  assert.equal(capture.count(/the PSKs differ/), 2, 'again once the interval has passed');
  const warning = capture.lines.find((line) => line.level === 'warn')!;
  assert.equal(warning.endpoint, '192.0.2.20:4000');

  path.info = { peerIdentity: '192.168.50.2', cipherSuite: 0xccac, extendedMasterSecret: true, peerIsMeshboi: true };
  watch.completed(path);
  watch.closed(path, mismatch);
  assert.equal(watch.forPeer(peer).completed, 1);
  assert.equal(watch.forPeer(peer).failed.psk_mismatch, 6, 'an established session ending is not a failed handshake');
  session.abort();
});
