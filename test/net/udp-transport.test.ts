// The real UDP transport: plain IPv4 addresses work in both directions on a dual-stack socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UdpTransport } from '../../src/net/udp-transport';
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
