// The `--metrics-address HOST:PORT` endpoint: a plain HTTP server answering GET /metrics in the
// Prometheus text format, 404 for any other path; it closes with every connection on stop.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsSource } from './snapshot';

export interface MetricsAddress {
  host: string;
  port: number;
}

/** `127.0.0.1:9464`, `[::1]:9464`, `localhost:9464`; port 0 picks a free one. Throws what to give. */
export function parseMetricsAddress(text: string): MetricsAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new Error(`"${text}" is not HOST:PORT; give e.g. 127.0.0.1:9464 or [::1]:9464 (port 0 picks a free one)`);
  }
  return { host: match[1] ?? match[2], port };
}

export function formatMetricsAddress({ host, port }: MetricsAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class MetricsExporter {
  private constructor(private readonly server: http.Server, readonly address: MetricsAddress) {}

  /** Listens on `address`; rejects with advice when it cannot (address in use, not ours). */
  static async listen(address: MetricsAddress, source: MetricsSource): Promise<MetricsExporter> {
    const server = http.createServer((request, response) => answer(source, request, response));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(address.port, address.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new Error(`cannot serve metrics on ${formatMetricsAddress(address)} (${reason}); pick another --metrics-address`);
    }
    const bound = server.address() as AddressInfo;
    return new MetricsExporter(server, { host: bound.address, port: bound.port });
  }

  /** `http://HOST:PORT/metrics` as bound, for logs and tests. */
  get url(): string {
    return `http://${formatMetricsAddress(this.address)}/metrics`;
  }

  /** Stops listening and ends open connections (a scraper's keep-alive would hold the stop). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function answer(source: MetricsSource, request: http.IncomingMessage, response: http.ServerResponse): void {
  const path = new URL(request.url ?? '/', 'http://metrics').pathname;
  if (path !== '/metrics') {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
    return;
  }
  if (request.method !== 'GET') {
    response.writeHead(405, { allow: 'GET', 'content-type': 'text/plain; charset=utf-8' }).end('only GET is served\n');
    return;
  }
  source.render().then(
    (text) => response.writeHead(200, { 'content-type': source.contentType }).end(text),
    (error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error);
      response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics unavailable: ${reason}\n`);
    },
  );
}
