// `npm run demo` as root: builds a small internet with two NATs, runs a rolodex and three members,
// shows a ping matrix, an iperf3 figure through one tunnel and every member's status table, then cleans up.
import { existsSync } from 'node:fs';
import { Lab } from './lab';
import { iperfThroughTunnel, MESHBOI_CLI, pingMatrix, renderPingMatrix, startMesh, waitForFullMesh } from './meshboi';
import { isRoot } from './tools';

const started = Date.now();
const seconds = (): string => `${((Date.now() - started) / 1_000).toFixed(1)}s`;
const step = (line: string): void => {
  process.stdout.write(`\n==> [${seconds()}] ${line}\n`);
};
const detail = (line: string): void => {
  process.stdout.write(`    ${line}\n`);
};

async function main(): Promise<void> {
  if (!isRoot()) {
    process.stderr.write('The demo builds network namespaces, veth links and nftables NATs, which needs root: run `npm run demo` as root.\n');
    process.exit(1);
  }
  if (!existsSync(MESHBOI_CLI)) throw new Error(`${MESHBOI_CLI} is missing: run \`npm run build\` first`);

  step('building the lab: an internet, a rolodex host, two cone NATs (home with alice and bob, office with carol)');
  const lab = await Lab.create(
    { public: ['rolodex'], nats: { home: { kind: 'cone', hosts: ['alice', 'bob'] }, office: { kind: 'cone', hosts: ['carol'] } } },
    { report: detail },
  );
  try {
    await lab.explainFailure(async () => {
      step('starting the rolodex and three members, each in its own namespace');
      const mesh = await startMesh(
        lab,
        {
          rolodexHost: 'rolodex',
          network: 'demo',
          members: [
            { host: 'alice', vpnIp: '192.168.50.1/24' },
            { host: 'bob', vpnIp: '192.168.50.2/24' },
            { host: 'carol', vpnIp: '192.168.50.3/24' },
          ],
          logLevel: 'info',
        },
        detail,
      );

      step('waiting until every member has a DTLS session with every other one');
      await waitForFullMesh(mesh.members, 30_000);
      detail('full mesh established');

      step('ping matrix through the tunnels (replies/sent, 3 pings per pair)');
      const pings = await pingMatrix(mesh.members);
      process.stdout.write(`${renderPingMatrix(mesh.members, pings)}\n`);

      const [alice, , carol] = mesh.members;
      step(`iperf3 TCP for 3 s from ${alice.name} (home NAT) to ${carol.name} (office NAT) through their tunnel`);
      const transfer = await iperfThroughTunnel(alice, carol, { seconds: 3 });
      detail(`${(transfer.bitsPerSecond / 1e6).toFixed(1)} Mbit/s (${(transfer.bytesReceived / 1e6).toFixed(1)} MB in ${transfer.seconds.toFixed(1)} s)`);

      for (const member of mesh.members) {
        step(`meshboi status on ${member.name} (${member.vpnIp}), after that traffic`);
        process.stdout.write(`${(await member.statusTable()).trimEnd()}\n`);
      }

      const lost = pings.filter((result) => result.received < result.transmitted);
      if (lost.length > 0) throw new Error(`pings were lost on ${lost.map((result) => `${result.from} -> ${result.to}`).join(', ')}`);
    });
  } finally {
    step('tearing the lab down');
    await lab.teardown();
  }
  step(`done in ${seconds()}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
