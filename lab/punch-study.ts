// The punching study behind docs/punching.md: runs each technique several times between two hosts
// behind stray-state NATs (and behind symmetric NATs on one or both sides) and prints a Markdown
// table of success rate and time to connect. `node dist/lab/punch-study.js [--runs 3]`, as root.
import { parseArgs } from 'node:util';
import { Lab } from './lab';
import { startEcho } from './probes';
import { punchPair, type PunchPairResult } from './punching';
import { STRAY_STATE_LAB, TECHNIQUES } from './punch-techniques';

const SKEWS_MS = [0, 300, 2_000];
const PAIRS: ReadonlyArray<{ label: string; hosts: [string, string] }> = [
  { label: 'stray / stray', hosts: ['a', 'b'] },
  { label: 'symmetric / stray', hosts: ['c', 'd'] },
  { label: 'symmetric / symmetric', hosts: ['e', 'f'] },
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
  const runs = Number(values.runs);
  const lab = await Lab.create(STRAY_STATE_LAB, { report: (line) => process.stderr.write(`${line}\n`) });
  try {
    await startEcho(lab.host('rdv'), 7000);
    let port = 42_000;
    const header = ['technique', ...PAIRS.flatMap((pair) => SKEWS_MS.map((skew) => `${pair.label}, skew ${skew} ms`))];
    process.stdout.write(`| ${header.join(' | ')} |\n| ${header.map(() => '---').join(' | ')} |\n`);
    for (const [name, technique] of Object.entries(TECHNIQUES)) {
      const cells = new Array<string>(PAIRS.length * SKEWS_MS.length).fill('');
      // Pairs run side by side (their NATs share nothing); runs and skews one after another, each on fresh ports.
      await Promise.all(
        PAIRS.map(async (pair, pairIndex) => {
          for (const [skewIndex, skewMs] of SKEWS_MS.entries()) {
            const results: PunchPairResult[] = [];
            for (let run = 0; run < runs; run++) {
              port += 1;
              results.push(await punchPair(lab.host(pair.hosts[0]), lab.host(pair.hosts[1]), { rendezvous: `${lab.host('rdv').address}:7000`, port, skewMs, technique }));
              process.stderr.write(`${name} ${pair.label} skew ${skewMs}: ${JSON.stringify(results[results.length - 1])}\n`);
            }
            cells[pairIndex * SKEWS_MS.length + skewIndex] = summarize(results);
          }
        }),
      );
      process.stdout.write(`| ${name} | ${cells.join(' | ')} |\n`);
    }
  } finally {
    await lab.teardown();
  }
}

/** "3/3, 1.1 s" : connected runs of all, and the median time to connect of those that did. */
function summarize(results: PunchPairResult[]): string {
  const times = results.flatMap((result) => (result.connectedMs === null ? [] : [result.connectedMs])).sort((a, b) => a - b);
  const rate = `${times.length}/${results.length}`;
  return times.length === 0 ? rate : `${rate}, ${(times[Math.floor((times.length - 1) / 2)] / 1_000).toFixed(1)} s`;
}

main().catch((error: unknown) => {
  process.stderr.write(`punch-study: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
