// Metrics read from a snapshot at scrape time (the rolodex's stats, the member's status) instead of
// counted twice: the code being watched keeps its own counters, and a scrape copies them out.
import { Counter, Gauge, Registry } from 'prom-client';

export interface MetricDefinition<Name extends string = string> {
  /** Prometheus conventions: `meshboi_` first, unit in the name, `_total` on counters. */
  name: Name;
  help: string;
  type: 'counter' | 'gauge';
  labels: readonly string[];
}

export interface Sample {
  labels?: Record<string, string>;
  value: number;
}

/** Every defined metric's samples; a labelled metric with no sample has no series this scrape. */
export type Samples<Name extends string> = Record<Name, Sample[]>;

/** What the HTTP exporter serves: one rendering per scrape. */
export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

/** A registry of its own whose metrics are set from `read()` on every scrape. */
export class SnapshotMetrics<Name extends string> implements MetricsSource {
  private readonly registry = new Registry();
  private readonly metrics: Array<{ name: Name; metric: Counter | Gauge }>;

  constructor(definitions: readonly MetricDefinition<Name>[], private readonly read: () => Samples<Name>) {
    this.metrics = definitions.map((definition) => {
      const configuration = { name: definition.name, help: definition.help, labelNames: definition.labels, registers: [this.registry] };
      return { name: definition.name, metric: definition.type === 'counter' ? new Counter(configuration) : new Gauge(configuration) };
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    const samples = this.read();
    for (const { name, metric } of this.metrics) {
      // A reset drops series that are gone (a forgotten peer); the source's counters only grow.
      metric.reset();
      for (const sample of samples[name]) {
        if (metric instanceof Counter) metric.inc(sample.labels ?? {}, sample.value);
        else metric.set(sample.labels ?? {}, sample.value);
      }
    }
    return this.registry.metrics();
  }
}
