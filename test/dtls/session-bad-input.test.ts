// Bad input: a wrong PSK fails clearly on both sides; replayed, truncated, mangled and random
// datagrams never throw, never hang a handshake and never disturb an established session.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock';
import { CipherSuiteId } from '../../src/dtls/api';
import { DtlsSession } from '../../src/dtls/index';
import { activeHandles, assertNoLeaks, eventually } from '../member/harness';
import { sleep } from '../support/wait';
import { EventRecorder, SessionPair } from './session-pair';

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
}

for (const id of [CipherSuiteId.TLS_PSK_WITH_AES_128_CCM_8, CipherSuiteId.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256]) {
  test(`a wrong PSK fails on both sides at once with a message saying the PSKs differ (suite 0x${id.toString(16)})`, async () => {
    const before = activeHandles();
    // Time stands still, so no retransmission timer can fire: both sides must fail on what they received.
    const pair = new SessionPair({ clientPsk: Buffer.from('one password'), serverPsk: Buffer.from('another password'), clientSuites: [id], clock: new ManualClock() });
    try {
      pair.client.start();
      await eventually('both closed', () => pair.client.state === 'closed' && pair.server?.state === 'closed');
      assert.deepEqual(pair.serverEvents.closes, [
        { kind: 'alert', description: 20, message: "handshake failed: the peer's Finished did not verify — the PSKs differ" },
      ]);
      assert.deepEqual(pair.clientEvents.closes, [
        { kind: 'alert', description: 20, message: 'handshake failed: the peer could not verify our Finished (bad_record_mac (20)) — the PSKs differ' },
      ]);
      assert.equal(pair.client.counters.retransmits, 0, 'no waiting for timeouts');
      for (const close of [...pair.serverEvents.closes, ...pair.clientEvents.closes]) {
        assert.ok(!JSON.stringify(close).includes('password'), 'no key material in errors');
      }
    } finally {
      await pair.close();
    }
    await assertNoLeaks(before);
  });
}

/** Everything an attacker or a broken network could send, built from what was really on the wire. */
function junkFrom(wire: Buffer[], freshClientHello: Buffer): Buffer[] {
  const next = lcg(42);
  const junk: Buffer[] = [Buffer.from('hello'), Buffer.alloc(0), freshClientHello];
  for (const datagram of wire) {
    junk.push(Buffer.from(datagram));
    for (let length = 0; length < datagram.length; length += 3) junk.push(datagram.subarray(0, length));
    for (let position = 0; position < datagram.length; position++) {
      const mangled = Buffer.from(datagram);
      mangled[position]! ^= 1 << (next() % 8);
      junk.push(mangled);
    }
  }
  for (let i = 0; i < 2000; i++) {
    const datagram = Buffer.alloc(next() % 200);
    for (let j = 0; j < datagram.length; j++) datagram[j] = next() & 0xff;
    if (datagram.length >= 13 && i % 2 === 0) {
      // A plausible header in front of garbage, so the record layer looks further.
      datagram[0] = 20 + (next() % 4);
      datagram.writeUInt16BE(0xfefd, 1);
      datagram.writeUInt16BE(next() % 3, 3);
      datagram.writeUInt16BE(datagram.length - 13, 11);
    }
    junk.push(datagram);
  }
  // Plaintext alerts in epoch 0: anyone can forge them, so an established session ignores them.
  junk.push(Buffer.from('15' + 'fefd' + '0000' + '000000000000' + '0002' + '0214', 'hex'));
  junk.push(Buffer.from('15' + 'fefd' + '0000' + '000000000063' + '0002' + '0100', 'hex'));
  return junk;
}

test('an established session ignores replays, truncations, mangled and random datagrams, plaintext alerts and hello', async () => {
  const before = activeHandles();
  const wire: Buffer[] = [];
  const pair = new SessionPair({
    interceptor: (datagram) => {
      wire.push(Buffer.from(datagram.data));
      return datagram;
    },
  });
  const stranger = new DtlsSession({ role: 'client', psk: Buffer.from('x'), identity: 'x', send: (d) => strangerHello.push(d) }, new EventRecorder());
  const strangerHello: Buffer[] = [];
  try {
    pair.client.start();
    await eventually('established', () => pair.established);
    pair.client.send(Buffer.from('before'));
    pair.server!.send(Buffer.from('before'));
    await eventually('data', () => pair.clientEvents.data.length === 1 && pair.serverEvents.data.length === 1);
    stranger.start();
    const junk = junkFrom(wire, strangerHello[0]!);
    const server = pair.server!;
    for (const datagram of junk) {
      assert.doesNotThrow(() => pair.client.handleDatagram(Buffer.from(datagram)));
      assert.doesNotThrow(() => server.handleDatagram(Buffer.from(datagram)));
    }
    await sleep(20);
    assert.equal(pair.client.state, 'established');
    assert.equal(server.state, 'established');
    assert.deepEqual([pair.clientEvents.closes, pair.serverEvents.closes], [[], []]);
    assert.deepEqual(pair.serverEvents.data.map(String), ['before'], 'replayed application data is not delivered again');
    assert.deepEqual(pair.clientEvents.data.map(String), ['before']);
    for (const counters of [pair.client.counters, server.counters]) {
      assert.ok(counters.droppedReplay > 0 && counters.droppedAuth > 0 && counters.droppedMalformed > 0, JSON.stringify(counters));
    }
    pair.client.send(Buffer.from('after'));
    server.send(Buffer.from('after'));
    await eventually('data still flows', () => pair.clientEvents.data.length === 2 && pair.serverEvents.data.length === 2);
  } finally {
    stranger.abort();
    await pair.close();
  }
  await assertNoLeaks(before);
});

test('a mangled server flight never hangs or throws: each handshake ends established or with a stated reason', async () => {
  const before = activeHandles();
  for (let position = 0; position < 140; position += 7) {
    let mangled = false;
    const pair = new SessionPair({
      retransmitInitialMs: 10,
      retransmitMaxTries: 4,
      interceptor: (datagram) => {
        if (!mangled && datagram.from.port === 6000 && datagram.data[13] === 2 && position < datagram.data.length) {
          mangled = true;
          datagram.data[position]! ^= 0x10;
        }
        return datagram;
      },
    });
    try {
      pair.client.start();
      await eventually(`handshake over (byte ${position})`, () => pair.client.state !== 'handshaking' && pair.server?.state !== 'handshaking', 5000);
      for (const [session, events] of [
        [pair.client, pair.clientEvents],
        [pair.server!, pair.serverEvents],
      ] as const) {
        if (session.state === 'established') continue;
        const close = events.closes[0];
        assert.ok(close && 'message' in close && close.message.startsWith('handshake'), `byte ${position}: ${JSON.stringify(close)}`);
      }
    } finally {
      await pair.close();
    }
  }
  await assertNoLeaks(before);
});

test('a payload larger than one record is refused without throwing, and the session carries on', async () => {
  const before = activeHandles();
  const pair = new SessionPair();
  try {
    pair.client.start();
    await eventually('established', () => pair.established);
    let accepted = true;
    assert.doesNotThrow(() => {
      accepted = pair.client.send(Buffer.alloc(16_385, 1));
    });
    assert.equal(accepted, false);
    assert.equal(pair.client.send(Buffer.alloc(16_384, 2)), true, 'the largest record still goes');
    await eventually('the largest record arrived', () => pair.serverEvents.data.length === 1);
    assert.equal(pair.serverEvents.data[0]!.length, 16_384);
    assert.equal(pair.client.state, 'established');
  } finally {
    await pair.close();
  }
  await assertNoLeaks(before);
});
