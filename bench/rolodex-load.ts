// Load generator for the rolodex benchmark, run as a child process: many simulated members (one
// UDP socket each, on its own 127.x.y.z address or all on one) heartbeating on loopback, as
// original members or as ours (the extension, cookies echoed), counting the maps they get, and
// reporting to the parent over IPC when they have learnt what it asks.
import dgram from 'node:dgram';

export interface LoadConfig {
  rolodexPort: number;
  /** Global index of this worker's first member; its address derives from the index. */
  firstIndex: number;
  count: number;
  /** Members numbered i belong to network `net-${Math.floor(i / membersPerNetwork)}`. */
  membersPerNetwork: number;
  heartbeatMs: number;
  /** Every member on this one address (a crowd behind one NAT); default one address each. */
  address?: string;
  /** Members of ours: the extension in heartbeats, and the rolodex's cookies echoed at once. */
  ours?: boolean;
}

export type ToWorker =
  | { type: 'config'; config: LoadConfig }
  | { type: 'start'; everyone?: string[] }
  | { type: 'probe'; key: string; network: string }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'bound'; keys: string[] }
  | { type: 'stats'; worker: number; sent: number; received: number; receivedBytes: number; mapped: number }
  | { type: 'mapped'; at: number; members: number }
  | { type: 'probe-seen'; key: string; at: number; members: number }
  | { type: 'probe-ready'; key: string; members: number };

/** 127.a.b.c for member `index`, avoiding .0 and .255 in each byte. */
export function loopbackAddress(index: number): string {
  return `127.${1 + Math.floor(index / 62_500)}.${(Math.floor(index / 250) % 250) + 1}.${(index % 250) + 1}`;
}

const SCHEDULER_MS = 50;

class LoadWorker {
  private readonly sockets: dgram.Socket[] = [];
  private readonly keys: string[] = [];
  private readonly networks: string[] = [];
  /** Each member's heartbeat; ours change when a cookie comes. */
  private heartbeats: Buffer[] = [];
  private sent = 0;
  private received = 0;
  private receivedBytes = 0;
  private schedule: NodeJS.Timeout | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  /** Full-map tracking: for each member, which of everyone it has seen, and how many. */
  private everyone: Map<string, number> | null = null;
  private seen: Uint8Array[] = [];
  private seenCount: Int32Array = new Int32Array(0);
  private fullyMapped = 0;
  private probe: { key: string; quoted: string; members: Set<number>; remaining: number } | null = null;

  constructor(private readonly config: LoadConfig) {}

  async bind(): Promise<string[]> {
    for (let i = 0; i < this.config.count; i++) {
      const index = this.config.firstIndex + i;
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, this.config.address ?? loopbackAddress(index), () => {
          socket.off('error', reject);
          resolve();
        });
      });
      const member = i;
      socket.on('message', (data) => this.receive(member, data));
      this.sockets.push(socket);
      this.keys.push(`${socket.address().address}:${socket.address().port}`);
      const network = `net-${Math.floor(index / this.config.membersPerNetwork)}`;
      this.networks.push(network);
      this.heartbeats.push(this.heartbeat(network));
    }
    return this.keys;
  }

  private heartbeat(network: string, cookie?: string): Buffer {
    if (!this.config.ours) return Buffer.from(JSON.stringify({ NetworkName: network }));
    return Buffer.from(JSON.stringify({ NetworkName: network, Meshboi: { V: 1, Local: [], ...(cookie === undefined ? {} : { Cookie: cookie }) } }));
  }

  /** Heartbeats spread evenly over the interval, the first for each member within one interval. */
  start(everyone?: string[]): void {
    if (everyone) {
      this.everyone = new Map(everyone.map((key, index) => [key, index]));
      this.seen = this.sockets.map(() => new Uint8Array(everyone.length));
      this.seenCount = new Int32Array(this.sockets.length);
    }
    const slots = Math.max(1, Math.round(this.config.heartbeatMs / SCHEDULER_MS));
    const startedAt = Date.now();
    let served = 0;
    // Time-driven: a late timer sends the slots that came due (a few at a time, so a stalled
    // worker catches up without one burst that would overflow the rolodex's socket buffer).
    this.schedule = setInterval(() => {
      const due = Math.min(Math.floor((Date.now() - startedAt) / SCHEDULER_MS) + 1, served + 4);
      for (; served < due; served++) {
        for (let i = served % slots; i < this.sockets.length; i += slots) {
          this.sockets[i].send(this.heartbeats[i], this.config.rolodexPort, '127.0.0.1');
          this.sent++;
        }
      }
    }, SCHEDULER_MS);
    this.statsTimer = setInterval(() => {
      send({ type: 'stats', worker: this.config.firstIndex, sent: this.sent, received: this.received, receivedBytes: this.receivedBytes, mapped: this.fullyMapped });
    }, 1000);
  }

  watch(key: string, network: string): void {
    const members = new Set<number>();
    this.networks.forEach((name, i) => {
      if (name === network && this.keys[i] !== key) members.add(i);
    });
    if (members.size > 0) this.probe = { key, quoted: JSON.stringify(key), members, remaining: members.size };
    send({ type: 'probe-ready', key, members: members.size });
  }

  private receive(member: number, data: Buffer): void {
    this.received++;
    this.receivedBytes += data.length;
    if (this.config.ours && data.includes('"Cookie":"')) {
      // Echoed at once, as our member does, so the rolodex verifies this endpoint.
      const { Meshboi } = JSON.parse(data.toString('latin1')) as { Meshboi: { Cookie: string } };
      this.heartbeats[member] = this.heartbeat(this.networks[member], Meshboi.Cookie);
      this.sockets[member].send(this.heartbeats[member], this.config.rolodexPort, '127.0.0.1');
      this.sent++;
      return;
    }
    const probe = this.probe;
    if (probe && probe.members.has(member) && data.includes(probe.quoted)) {
      probe.members.delete(member);
      if (probe.members.size === 0) {
        send({ type: 'probe-seen', key: probe.key, at: Date.now(), members: probe.remaining });
        this.probe = null;
      }
    }
    if (this.everyone) this.track(member, data);
  }

  private track(member: number, data: Buffer): void {
    const everyone = this.everyone as Map<string, number>;
    const seen = this.seen[member];
    const { Addresses } = JSON.parse(data.toString('latin1')) as { Addresses: string[] };
    const before = this.seenCount[member];
    for (const address of Addresses) {
      const index = everyone.get(address);
      if (index !== undefined && seen[index] === 0) {
        seen[index] = 1;
        this.seenCount[member]++;
      }
    }
    if (before < everyone.size && this.seenCount[member] === everyone.size) {
      this.fullyMapped++;
      if (this.fullyMapped === this.sockets.length) send({ type: 'mapped', at: Date.now(), members: this.fullyMapped });
    }
  }

  stop(): void {
    if (this.schedule) clearInterval(this.schedule);
    if (this.statsTimer) clearInterval(this.statsTimer);
    for (const socket of this.sockets) socket.close();
  }
}

function send(message: FromWorker): void {
  process.send?.(message);
}

if (require.main === module) {
  let worker: LoadWorker | null = null;
  process.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'config':
        worker = new LoadWorker(message.config);
        void worker.bind().then((keys) => send({ type: 'bound', keys }));
        break;
      case 'start':
        worker?.start(message.everyone);
        break;
      case 'probe':
        worker?.watch(message.key, message.network);
        break;
      case 'stop':
        process.disconnect();
        break;
    }
  });
  // The parent asked us to stop, or died: either way the sockets close and we exit.
  process.on('disconnect', () => worker?.stop());
}
