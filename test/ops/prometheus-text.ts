// A strict reader of the Prometheus text exposition format (0.0.4) for tests: every sample
// belongs to a family announced by one HELP and one TYPE line, names and labels are well formed,
// and meshboi's conventions hold (`meshboi_` prefix, counters end in `_total`).

export interface MetricFamily {
  help: string;
  type: string;
  samples: Array<{ labels: Record<string, string>; value: number }>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(?:,|$)/;

/** The families in `text` by name; throws naming the line on anything out of format. */
export function readPrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const lines = text.split('\n');
  if (lines.pop() !== '') throw new Error('the exposition must end with a newline');
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line)})`;
    if (line === '') return;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment;
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      const family = families.get(name) ?? { help: '', type: '', samples: [] };
      families.set(name, family);
      if (family.samples.length > 0) throw new Error(`${where}: ${kind} after the family's samples`);
      if (kind === 'HELP') {
        if (family.help !== '' || rest === '') throw new Error(`${where}: HELP repeated or empty`);
        family.help = rest;
      } else {
        if (family.type !== '' || !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`${where}: TYPE repeated or unknown`);
        family.type = rest;
      }
      return;
    }
    if (line.startsWith('#')) return;
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`${where}: not a sample`);
    const [, name, labelText = '', valueText] = sample;
    const family = families.get(name);
    if (!family || family.help === '' || family.type === '') throw new Error(`${where}: sample without HELP and TYPE before it`);
    const value = Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') throw new Error(`${where}: bad value`);
    family.samples.push({ labels: readLabels(labelText, where), value });
  });
  for (const [name, family] of families) {
    if (!name.startsWith('meshboi_')) throw new Error(`${name}: not under the meshboi_ prefix`);
    if ((family.type === 'counter') !== name.endsWith('_total')) throw new Error(`${name}: counters, and only counters, end in _total`);
  }
  return families;
}

function readLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let rest = text; rest !== ''; ) {
    const label = LABEL.exec(rest);
    if (!label) throw new Error(`${where}: bad labels at ${JSON.stringify(rest)}`);
    if (label[1] in labels) throw new Error(`${where}: label ${label[1]} repeated`);
    labels[label[1]] = label[2].replace(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped));
    rest = rest.slice(label[0].length);
  }
  return labels;
}

/** The one sample of `name` whose labels include `labels`; throws if there is not exactly one. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  const matching = (families.get(name)?.samples ?? []).filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  if (matching.length !== 1) throw new Error(`${matching.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return matching[0].value;
}
