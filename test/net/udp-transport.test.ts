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
