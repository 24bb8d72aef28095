// The real UDP transport: plain IPv4 addresses work in both directions on a dual-stack socket, and
// datagrams sent in one turn leave together through sendmmsg, complete and in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UdpTransport, type UdpOptions } from '../../src/net/udp-transport';
import type { Endpoint } from '../../src/net/transport';

function nextMessage(transport: UdpTransport): Promise<{ data: Buffer; from: Endpoint }> {
  return new Promise((resolve) => transport.onMessage((data, from) => resolve({ data: Buffer.from(data), from })));
}

test('a dual-stack socket reports IPv4 senders in plain form and can answer them in that form', async () => {
  const dual = await UdpTransport.open({ address: '::', port: 0 });
  const v4 = await UdpTransport.open({ address: '127.0.0.1', port: 0 });
  try {
    const atDual = nextMessage(dual);
    v4.send(Buffer.from('ping'), dual.localEndpoint().port, '127.0.0.1');
    const received = await atDual;
    assert.equal(received.from.address, '127.0.0.1');
    assert.equal(received.data.toString(), 'ping');

    const atV4 = nextMessage(v4);
    dual.send(Buffer.from('pong'), received.from.port, received.from.address);
    const answer = await atV4;
    assert.equal(answer.data.toString(), 'pong');
    assert.equal(answer.from.port, dual.localEndpoint().port);
  } finally {
    await dual.close();
    await v4.close();
  }
});

test('datagrams sent just before close still leave, so a last close_notify is not lost', async () => {
  const sender = await UdpTransport.open({ address: '127.0.0.1', port: 0 });
  const receiver = await UdpTransport.open({ address: '127.0.0.1', port: 0 });
  try {
    const received: string[] = [];
    receiver.onMessage((data) => received.push(data.toString()));
    for (let i = 0; i < 5; i++) sender.send(Buffer.from(`last-${i}`), receiver.localEndpoint().port, '127.0.0.1');
    await sender.close();
    const deadline = Date.now() + 2000;
    while (received.length < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(received, ['last-0', 'last-1', 'last-2', 'last-3', 'last-4']);
  } finally {
    await receiver.close();
  }
});

/** Collects numbered datagrams until `count` arrived or two seconds passed. */
async function collect(receiver: UdpTransport, send: () => void, count: number): Promise<number[]> {
  const received: number[] = [];
  receiver.onMessage((data) => received.push(data.readUInt32BE(0)));
  send();
  const deadline = Date.now() + 2000;
  while (received.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  return received;
}

function numbered(index: number): Buffer {
  const datagram = Buffer.alloc(200, index & 0xff);
  datagram.writeUInt32BE(index, 0);
  return datagram;
}

const BATCH = 64 * 3 + 5;
const inOrder = (count: number): number[] => Array.from({ length: count }, (_, index) => index);

/** Sends BATCH numbered datagrams to a loopback receiver in one turn; returns what arrived. */
function sendBatchInOneTurn(sender: UdpTransport, receiver: UdpTransport): Promise<number[]> {
  const port = receiver.localEndpoint().port;
  return collect(receiver, () => {
    for (let i = 0; i < BATCH; i++) sender.send(numbered(i), port, '127.0.0.1');
  }, BATCH);
}

/** Opens a sender and a loopback IPv4 receiver, runs `body`, and closes both whatever happens. */
async function withLoopbackPair(senderOptions: Partial<UdpOptions>, body: (sender: UdpTransport, receiver: UdpTransport) => Promise<void>): Promise<void> {
  const sender = await UdpTransport.open({ address: '127.0.0.1', port: 0, ...senderOptions });
  const receiver = await UdpTransport.open({ address: '127.0.0.1', port: 0, bufferBytes: 1 << 20 });
  try {
    await body(sender, receiver);
  } finally {
    await sender.close();
    await receiver.close();
  }
}

test('a batch sent in one turn leaves through sendmmsg and arrives complete and in order over IPv4', () =>
  withLoopbackPair({}, async (sender, receiver) => {
    assert.equal(sender.batched, true, 'the meshboi_udp addon should load (run npm install)');
    assert.deepEqual(await sendBatchInOneTurn(sender, receiver), inOrder(BATCH));
    assert.deepEqual(sender.batchCounters, { sent: BATCH, batches: 1, dropped: 0 });
  }));

test('a dual-stack socket batches to IPv6 and plain IPv4 destinations alike', async () => {
  const sender = await UdpTransport.open({ address: '::', port: 0 });
  const v6 = await UdpTransport.open({ address: '::1', port: 0, bufferBytes: 1 << 20 });
  const v4 = await UdpTransport.open({ address: '127.0.0.1', port: 0, bufferBytes: 1 << 20 });
  try {
    const atV4 = collect(v4, () => {}, BATCH);
    const atV6 = await collect(v6, () => {
      for (let i = 0; i < BATCH; i++) {
        sender.send(numbered(i), v6.localEndpoint().port, '::1');
        sender.send(numbered(i), v4.localEndpoint().port, '127.0.0.1');
      }
    }, BATCH);
    assert.deepEqual(atV6, inOrder(BATCH));
    assert.deepEqual(await atV4, inOrder(BATCH));
    assert.deepEqual(sender.batchCounters, { sent: 2 * BATCH, batches: 1, dropped: 0 });
  } finally {
    await sender.close();
    await v6.close();
    await v4.close();
  }
});

test('a datagram the kernel refuses is counted as dropped and the rest of the batch still leaves', () =>
  withLoopbackPair({}, async (sender, receiver) => {
    const port = receiver.localEndpoint().port;
    const received = await collect(receiver, () => {
      sender.send(numbered(0), port, '127.0.0.1');
      // An IPv4 socket cannot send to an IPv6 address: sendmmsg fails on this one datagram only.
      sender.send(numbered(1), port, '::1');
      sender.send(numbered(2), port, '127.0.0.1');
    }, 2);
    assert.deepEqual(received, [0, 2]);
    assert.deepEqual(sender.batchCounters, { sent: 2, batches: 1, dropped: 1 });
  }));

test('without batching, sends go one by one through dgram, complete and in order', () =>
  withLoopbackPair({ address: '::', batchSends: false }, async (sender, receiver) => {
    assert.equal(sender.batched, false);
    assert.deepEqual(await sendBatchInOneTurn(sender, receiver), inOrder(BATCH));
    assert.deepEqual(sender.batchCounters, { sent: 0, batches: 0, dropped: 0 });
  }));

test('a host name destination goes through dgram while numeric ones are batched', () =>
  withLoopbackPair({}, async (sender, receiver) => {
    const port = receiver.localEndpoint().port;
    const received = await collect(receiver, () => {
      sender.send(numbered(0), port, '127.0.0.1');
      sender.send(numbered(1), port, 'localhost');
    }, 2);
    assert.deepEqual([...received].sort(), [0, 1]);
    assert.deepEqual(sender.batchCounters, { sent: 1, batches: 1, dropped: 0 });
  }));

test('a datagram with its own TTL leaves after those queued before it and before those after; without the addon it is dropped', async () => {
  await withLoopbackPair({ address: '::' }, async (sender, receiver) => {
    const port = receiver.localEndpoint().port;
    const received = await collect(receiver, () => {
      sender.send(numbered(0), port, '127.0.0.1');
      sender.send(numbered(1), port, '127.0.0.1', 1);
      sender.send(numbered(2), port, '127.0.0.1');
    }, 3);
    assert.deepEqual(received, [0, 1, 2]);
    assert.deepEqual(sender.batchCounters, { sent: 3, batches: 2, dropped: 0 });
  });
  await withLoopbackPair({ batchSends: false }, async (sender, receiver) => {
    const port = receiver.localEndpoint().port;
    assert.deepEqual(await collect(receiver, () => {
      sender.send(numbered(0), port, '127.0.0.1', 1);
      sender.send(numbered(1), port, '127.0.0.1');
    }, 1), [1]);
  });
});

test('equal datagrams to one destination leave as one GSO message and are split again from one GRO batch, in order', () =>
  withLoopbackPair({}, async (sender, receiver) => {
    assert.equal(receiver.batchedReceives, true, 'the meshboi_udp addon should load (run npm install)');
    assert.equal(receiver.receiveOffload, true, 'the kernel should take UDP_GRO (Linux 5.0 and later)');
    const port = receiver.localEndpoint().port;
    const sizes = [300, 300, 300, 120, 300, 300, 80, 500];
    const received: Buffer[] = [];
    receiver.onMessage((data) => received.push(Buffer.from(data)));
    sizes.forEach((size, index) => sender.send(Buffer.alloc(size, index), port, '127.0.0.1'));
    const deadline = Date.now() + 2000;
    while (received.length < sizes.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(received.map((data) => [data.length, data[0]]), sizes.map((size, index) => [size, index]));
    const counters = receiver.receiveCounters;
    assert.equal(counters.datagrams, sizes.length);
    assert.ok(counters.groSplits >= 1, `at least one GRO batch was split (${JSON.stringify(counters)})`);
    assert.ok(counters.batches < sizes.length, 'fewer receive calls than datagrams');
  }));

test('a received handshake or rolodex datagram is the handler\'s to keep; application data is a view for the moment', () =>
  withLoopbackPair({}, async (sender, receiver) => {
    const port = receiver.localEndpoint().port;
    const kept: Buffer[] = [];
    receiver.onMessage((data) => kept.push(data));
    for (const first of [22, 22, 23, 22]) {
      const before = kept.length;
      sender.send(Buffer.alloc(64, first), port, '127.0.0.1');
      const deadline = Date.now() + 2000;
      while (kept.length === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // The copies survive later batches; the application data view was overwritten by the next one.
    assert.deepEqual(kept.map((data) => data.equals(Buffer.alloc(64, 22))), [true, true, true, true]);
  }));

test('with segmentation off, equal datagrams still leave in one batch but as single datagrams', () =>
  withLoopbackPair({ segmentSends: false }, async (sender, receiver) => {
    assert.deepEqual(await sendBatchInOneTurn(sender, receiver), inOrder(BATCH));
    assert.deepEqual(sender.batchCounters, { sent: BATCH, batches: 1, dropped: 0 });
    assert.equal(receiver.receiveCounters.groSplits, 0);
  }));

test('offloads say what the socket uses, and options that turn batching off are no problem to report', async () => {
  await withLoopbackPair({}, async (sender) => {
    assert.deepEqual(sender.offloads, { enabled: ['sendmmsg', 'gso', 'recvmmsg', 'gro'], problem: '' });
  });
  await withLoopbackPair({ batchSends: false, batchReceives: false }, async (sender) => {
    assert.deepEqual(sender.offloads, { enabled: [], problem: '' });
  });
  await withLoopbackPair({ segmentSends: false }, async (sender) => {
    assert.deepEqual(sender.offloads.enabled, ['sendmmsg', 'recvmmsg', 'gro']);
  });
});
