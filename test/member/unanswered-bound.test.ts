// No amplifier: spoofed heartbeats list a victim's address in a plain network, and all members
// together send it no more than the stated bound (UnansweredBudget) however many there are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TIMINGS } from '../../src/member/main';
import { UNANSWERED_ADDRESS_BURST, UNANSWERED_ADDRESS_PER_SECOND } from '../../src/member/unanswered-budget';
import { encodeHeartbeat } from '../../src/rolodex-wire';
import { withMesh } from './mesh';

const VICTIM = '203.0.113.99';
const SECONDS = 60;

test('spoofed heartbeats get the victim no more than the stated bound from all members together', async () => {
  await withMesh(
    async (mesh) => {
      const names = ['m1', 'm2', 'm3', 'm4'];
      for (const [i, name] of names.entries()) {
        await mesh.addMember(name, { vpnIp: `192.168.50.${i + 1}`, address: `192.0.2.${10 + i}`, timings: DEFAULT_TIMINGS });
      }
      await mesh.waitEstablished('m1', '192.168.50.4', 30_000);
      const members = new Set(names.map((name) => mesh.get(name).transport.localEndpoint().address));
      let toVictim = 0;
      mesh.network.interceptor = (d) => {
        if (d.to.address === VICTIM && members.has(d.from.address)) toVictim += d.data.length;
        return d;
      };
      // 200 spoofed members on the victim's address, kept alive as real ones would be.
      const spoof = (): void => {
        for (let port = 1000; port < 1200; port++) {
          mesh.network.route({ from: { address: VICTIM, port }, to: { address: '198.51.100.1', port: 6264 }, data: encodeHeartbeat({ networkName: 'testnet', local: [], meshboi: false }) });
        }
      };
      spoof();
      const spoofing = mesh.clock.setInterval(spoof, 5000);
      try {
        await mesh.run(SECONDS * 1000);
      } finally {
        mesh.clock.clear(spoofing);
      }
      const bound = names.length * (UNANSWERED_ADDRESS_BURST + UNANSWERED_ADDRESS_PER_SECOND * SECONDS);
      assert.ok(toVictim > 0, 'the members were made to try the victim');
      assert.ok(toVictim <= bound, `the victim got ${toVictim} bytes, over the bound of ${bound}`);
      const throttled = names.map((name) => mesh.get(name).member.status().drops.unanswered_throttled);
      assert.ok(throttled.every((count) => count > 0), `every member held back some sends: ${throttled.join(', ')}`);
      for (const name of names.slice(1)) await mesh.ping('m1', name);
    },
    { summaryIntervalMs: 0 },
  );
});
