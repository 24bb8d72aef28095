// Flight retransmission (RFC 6347 4.2.4): the timer doubles from 1 s, gives up after the configured
// tries with a clear error, and a peer repeating its flight makes us re-send ours.
import { systemClock } from '../../src/clock';
import { strict as assert } from 'node:assert';
import { mock, test } from 'node:test';
import { DtlsSession } from '../../src/dtls/index';
import { FlightSender, type Flight } from '../../src/dtls/flights/flight';
import { decodeHandshakeFragments } from '../../src/dtls/handshake/header';
import { splitRecords } from '../../src/dtls/record/header';
import { activeHandles, assertNoLeaks, eventually } from '../member/harness';
import { sleep } from '../support/wait';
import { EventRecorder, SessionPair } from './session-pair';

test('an unanswered ClientHello is re-sent after 1, 2, 4, 8 and 16 s, then the handshake fails with a timeout', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const sent: Buffer[] = [];
  const events = new EventRecorder();
  const client = new DtlsSession({ role: 'client', psk: Buffer.from('k'), identity: 'me', send: (d) => sent.push(d) }, events);
  client.start();
  const sendsAt: number[] = [];
  let elapsed = 0;
  for (const step of [1000, 2000, 4000, 8000, 16000]) {
    mock.timers.tick(step - 1);
    assert.equal(sent.length, sendsAt.length + 1, `no retransmission before ${elapsed + step} ms`);
    mock.timers.tick(1);
    elapsed += step;
    sendsAt.push(elapsed);
  }
  assert.equal(sent.length, 6);
  assert.equal(client.state, 'handshaking');
  mock.timers.tick(32000);
  assert.equal(sent.length, 6, 'six tries by default');
  assert.equal(client.state, 'closed');
  assert.deepEqual(events.closes.map((c) => c.kind), ['handshake_timeout']);
  assert.match((events.closes[0] as { message: string }).message, /no answer to our ClientHello after 6 tries/);
  assert.equal(client.counters.retransmits, 5);
  // Each copy is sealed anew: fresh record sequence numbers, the same message_seq.
  const numbers = sent.map((datagram) => {
    const [record] = splitRecords(datagram).records;
    const fragments = decodeHandshakeFragments(record!.fragment);
    assert.ok(fragments.ok);
    return [record!.header.sequenceNumber, fragments.value[0]!.messageSeq];
  });
  assert.deepEqual(numbers, [0, 1, 2, 3, 4, 5].map((seq) => [seq, 0]));
});

test('retransmitMaxTries and retransmitInitialMs bound the wait', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const sent: Buffer[] = [];
  const events = new EventRecorder();
  const client = new DtlsSession(
    { role: 'client', psk: Buffer.from('k'), identity: 'me', send: (d) => sent.push(d), retransmitInitialMs: 100, retransmitMaxTries: 2 },
    events,
  );
  client.start();
  mock.timers.tick(100);
  assert.equal(sent.length, 2);
  mock.timers.tick(199);
  assert.equal(client.state, 'handshaking');
  mock.timers.tick(1);
  assert.equal(client.state, 'closed');
  assert.match((events.closes[0] as { message: string }).message, /after 2 tries/);
});

test('a lost server flight is recovered: the client re-sends, the server answers the repeat, both finish', async () => {
  const before = activeHandles();
  let dropServerFlights = 2;
  const pair = new SessionPair({
    interceptor: (datagram) => {
      // Drop the HelloVerifyRequest's successor twice: flight 4 as first sent and its first resend.
      if (datagram.from.port === 6000 && datagram.data[13] === 2 && dropServerFlights > 0) {
        dropServerFlights--;
        return null;
      }
      return datagram;
    },
  });
  try {
    pair.client.start();
    await eventually('established after retransmissions', () => pair.established);
    assert.ok(pair.client.counters.retransmits >= 1);
    assert.ok(pair.server!.counters.retransmits >= 1);
  } finally {
    await pair.close();
  }
  await assertNoLeaks(before);
});

test('when the server\'s last flight is lost, the client\'s repeated flight 5 brings it again', async () => {
  const before = activeHandles();
  let dropped = false;
  const pair = new SessionPair({
    interceptor: (datagram) => {
      // Flight 6 starts with the server's ChangeCipherSpec record.
      if (datagram.from.port === 6000 && datagram.data[0] === 20 && !dropped) {
        dropped = true;
        return null;
      }
      return datagram;
    },
  });
  try {
    pair.client.start();
    await eventually('server established', () => pair.server?.state === 'established');
    await eventually('client established', () => pair.client.state === 'established');
    assert.ok(dropped);
    assert.equal(pair.server!.counters.retransmits, 1, 'flight 6 re-sent once, on the repeat');
  } finally {
    await pair.close();
  }
  await assertNoLeaks(before);
});

test('a repeated flight answers at most once per 100 ms, so replays cannot make us an amplifier', async () => {
  const before = activeHandles();
  const fromClient: Buffer[] = [];
  const pair = new SessionPair({
    interceptor: (datagram) => {
      if (datagram.from.port === 5000) fromClient.push(Buffer.from(datagram.data));
      return datagram;
    },
  });
  try {
    pair.client.start();
    await eventually('established', () => pair.established);
    const flight5 = fromClient.find((d) => d[13] === 16)!;
    // Past the 100 ms after the server's own flight 6, so the first repeat is answered however slow the machine.
    await sleep(150);
    const sentBefore = pair.server!.counters.recordsOut;
    for (let i = 0; i < 20; i++) pair.server!.handleDatagram(Buffer.from(flight5));
    assert.equal(pair.server!.counters.recordsOut - sentBefore, 2, 'flight 6 (ChangeCipherSpec and Finished) once');
    assert.equal(pair.server!.state, 'established');
  } finally {
    await pair.close();
  }
  await assertNoLeaks(before);
});

function recordingSender(maxTries: number): { sender: FlightSender; sent: number[]; gaveUp: number[] } {
  const sent: number[] = [];
  const gaveUp: number[] = [];
  const sender = new FlightSender({
    initialMs: 1000,
    maxTries,
    transmit: (flight) => sent.push(flight.number),
    giveUp: (_flight, tries) => gaveUp.push(tries),
    clock: systemClock,
  });
  return { sender, sent, gaveUp };
}

const flight3: Flight = { number: 3, items: [], last: false };
const flight5: Flight = { number: 5, items: [], last: false };
const flight6: Flight = { number: 6, items: [], last: true };

test('peer repeats re-send our flight but neither restart the timer nor count as tries', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const { sender, sent, gaveUp } = recordingSender(3);
  assert.equal(sender.state, 'preparing');
  sender.send(flight3);
  assert.equal(sender.state, 'waiting');
  mock.timers.tick(500);
  sender.peerRepeated(10_000);
  sender.peerRepeated(10_050);
  assert.deepEqual(sent, [3, 3], 'one answer per 100 ms of repeats');
  mock.timers.tick(500);
  assert.equal(sent.length, 3, 'the timer still fired 1 s after the first send');
  mock.timers.tick(2000);
  assert.equal(sent.length, 4);
  mock.timers.tick(4000);
  assert.deepEqual(gaveUp, [3]);
  assert.equal(sender.state, 'finished');
  assert.equal(sender.retransmits, 3);
});

test('the last flight runs no timer and is re-sent only when the peer repeats, until stopped', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const { sender, sent, gaveUp } = recordingSender(2);
  sender.send(flight5);
  sender.peerAnswered();
  assert.equal(sender.state, 'preparing');
  sender.send(flight6);
  assert.equal(sender.state, 'finished');
  mock.timers.tick(600_000);
  assert.deepEqual(sent, [5, 6]);
  sender.peerRepeated(10_000);
  assert.deepEqual(sent, [5, 6, 6]);
  sender.stop();
  sender.peerRepeated(20_000);
  assert.deepEqual(sent, [5, 6, 6]);
  assert.deepEqual(gaveUp, []);
});
