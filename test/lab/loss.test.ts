// Packet loss on a lab link: nftables drops about the configured share each way, and 0 removes it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../lab/lab';
import { runProbe, startEcho } from '../../lab/probes';
import { skipUnlessRoot } from '../../lab/tools';

const skip = skipUnlessRoot('builds network namespaces and nftables rules');
const DATAGRAMS = 2_000;

describe('lab packet loss', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await Lab.create({ public: ['srv', 'lossy'], loss: { lossy: 20 } });
    await startEcho(lab.host('srv'), 7000);
  });
  after(() => lab?.teardown());

  test('20% loss on an uplink each way lets about 64% of round trips through', async () => {
    const result = await runProbe<{ sent: number; received: number }>(lab.host('lossy'), ['count', '--to', '203.0.113.10:7000', '--count', String(DATAGRAMS)]);
    const share = result.received / result.sent;
    // 0.8 each way; the binomial standard deviation at 2,000 round trips is about 1.1%, so 6% is over 5 of them.
    assert.ok(Math.abs(share - 0.64) < 0.06, `received ${result.received} of ${result.sent} (${(share * 100).toFixed(1)}%)`);
  });

  test('setting the loss to 0 removes it', async () => {
    await lab.setLoss('lossy', 0);
    const result = await runProbe<{ sent: number; received: number }>(lab.host('lossy'), ['count', '--to', '203.0.113.10:7000', '--count', String(DATAGRAMS)]);
    assert.equal(result.received, result.sent);
    const rules = await lab.host('lossy').mustExec('nft', ['list', 'ruleset']);
    assert.doesNotMatch(rules, /numgen/);
  });
});
