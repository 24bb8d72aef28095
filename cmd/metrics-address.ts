// `--metrics-address HOST:PORT`, shared by the commands that can serve Prometheus metrics.
import { InvalidArgumentError, Option } from 'commander';
import { parseMetricsAddress, type MetricsAddress } from '../src/metrics/exporter';

export function metricsAddressOption(): Option {
  return new Option('--metrics-address <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (off by default)').argParser(
    (text: string): MetricsAddress => {
      try {
        return parseMetricsAddress(text);
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message);
      }
    },
  );
}
