// End to end (issue 12, a rolodex started with --relay): the lab of relays.test.ts (members behind
// NATs that keep stray conntrack state, two behind one such NAT, two behind symmetric NATs, a pair
// whose UDP to each other is blocked) with no relay member, and a rolodex that relays. Every ordered
// pair pings within 30 s of start; the test prints which pairs are direct and which relayed, and
// pairs that can go direct are direct within 60 s. The rolodex's summary says what it relayed.
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../lab/lab';
import type { LabProcess } from '../../lab/process';
import { ROLODEX_PORT, startMember, startRolodex, waitFor, type MeshMember } from '../../lab/meshboi';
import { E2E_SKIP } from './mesh-fixture';
import { expectEveryPairConnected, mustRelay, NATTED_HOSTS, relayLab } from './relay-lab';

describe('every pair connects through a rolodex started with --relay when no member relays', { skip: E2E_SKIP }, () => {
  let lab: Lab | undefined;
  let rolodex: LabProcess | undefined;
  let rolodexAddress = '';
  const members: MeshMember[] = [];
  before(async () => {
    lab = await Lab.create(relayLab(['rolodex']));
    const rolodexHost = lab.host('rolodex');
    rolodexAddress = `${rolodexHost.address}:${ROLODEX_PORT}`;
    rolodex = await startRolodex(rolodexHost, { logLevel: 'info', extraArgs: ['--relay', '--summary-interval', '1'] });
    const psk = randomBytes(24).toString('base64url');
    // One after another, as in relays.test.ts: a shared two-core machine.
    for (const [index, host] of NATTED_HOSTS.entries()) {
      members.push(await startMember(lab.host(host), { network: 'lab', psk, vpnIp: `192.168.50.${index + 1}/24`, rolodexes: [rolodexAddress], logLevel: 'info' }));
    }
  });
  after(() => lab?.teardown());

  test('every ordered pair pings within 30 s, the pairs no punching connects through the rolodex, the others direct within 60 s', () =>
    lab!.explainFailure(async () => {
      const startedAt = Date.now();
      const settled = await expectEveryPairConnected(members, startedAt);
      for (const [pair, path] of settled) {
        const [from, to] = pair.split('>');
        if (mustRelay(from, to)) assert.equal(path, `relay rolodex ${rolodexAddress}`, pair);
      }
      // The rolodex's summary line (every second here) counts what it relayed, and refused nothing for budget.
      const summary = await waitFor('a rolodex summary with relayed frames', 5_000, async () => {
        const lines = rolodex!.output().split('\n').filter((line) => line.includes('summary') && /relayedFrames[=":]+[1-9]/.test(line));
        return lines.length > 0 ? lines[lines.length - 1] : undefined;
      });
      const refusals = rolodex!.output().split('\n').filter((line) => line.includes(' WARN '));
      process.stdout.write(`# rolodex: ${summary.trim()}\n${refusals.map((line) => `# rolodex: ${line}\n`).join('')}`);
      assert.doesNotMatch(rolodex!.output(), /relay budget/);
    }));
});
