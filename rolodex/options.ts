// The rolodex's limits and timings: defaults documented in docs/operations.md, all settable from the CLI.

export interface RolodexOptions {
  /** Longest network name accepted, in UTF-8 bytes. */
  maxNameBytes: number;
  /** Networks held at once; a heartbeat that would create one more is refused. */
  maxNetworks: number;
  /** Members of one network; a newcomer beyond this is refused. */
  maxMembersPerNetwork: number;
  /** Members across all networks, which bounds memory whatever the mix of networks. */
  maxMembers: number;
  /** A member is forgotten this long after its last heartbeat (the original: 30 s). */
  forgetAfterMs: number;
  /** Every member receives at least one map datagram this often (the original: 5 s). */
  mapIntervalMs: number;
  /** Sustained bytes per second sent to one destination (IPv4 address or IPv6 /64). */
  budgetBytesPerSecond: number;
  /** Bytes one destination may receive in a burst before the sustained rate applies. */
  budgetBurstBytes: number;
  /** The one-line summary is logged this often at info level; 0 disables it. */
  summaryIntervalMs: number;
  /** Least time between two join announcements to one network; grows 0.2 ms per member. */
  joinFlushMs: number;
  /** New members one source (IPv4 address or IPv6 /64) may register per second, sustained. */
  joinsPerSecond: number;
  /** New members one source may register at once: a NAT with this many members behind it joins in one go. */
  joinBurst: number;
  /** New networks one source may create per second, sustained. */
  networksPerSecond: number;
  /** New networks one source may create at once. */
  networkBurst: number;
  /** Relay opaque records between members of one network (`--relay`, docs/relays.md); off by default. */
  relay: boolean;
  /** Bytes per second one network's members may send through us in all, and as much at once. */
  relayNetworkBytesPerSecond: number;
  /** Bytes per second one member (its outside endpoint) may send through us, and as much at once. */
  relayEndpointBytesPerSecond: number;
}

/** A relay budget smaller than one full-size record (and its frame) would refuse every packet of a session. */
export const MIN_RELAY_BUDGET_BYTES = 2_048;

export const DEFAULT_OPTIONS: Readonly<RolodexOptions> = {
  maxNameBytes: 256,
  maxNetworks: 20_000,
  maxMembersPerNetwork: 10_000,
  maxMembers: 250_000,
  forgetAfterMs: 30_000,
  mapIntervalMs: 5_000,
  budgetBytesPerSecond: 64 * 1024,
  budgetBurstBytes: 512 * 1024,
  summaryIntervalMs: 60_000,
  joinFlushMs: 100,
  joinsPerSecond: 200,
  joinBurst: 2_000,
  networksPerSecond: 50,
  networkBurst: 1_000,
  relay: false,
  // A last resort for a few pairs, not a network's bulk traffic: 8 Mbit/s per network, 4 per member.
  relayNetworkBytesPerSecond: 1_000_000,
  relayEndpointBytesPerSecond: 500_000,
};

type NumericOption = { [K in keyof RolodexOptions]: RolodexOptions[K] extends number ? K : never }[keyof RolodexOptions];

/** Merges `overrides` over the defaults; throws naming the option when a value is unusable. */
export function resolveOptions(overrides: Partial<RolodexOptions> = {}): RolodexOptions {
  const options = { ...DEFAULT_OPTIONS, ...overrides };
  const positive: NumericOption[] = [
    'maxNameBytes',
    'maxNetworks',
    'maxMembersPerNetwork',
    'maxMembers',
    'forgetAfterMs',
    'mapIntervalMs',
    'budgetBytesPerSecond',
    'budgetBurstBytes',
    'joinsPerSecond',
    'joinBurst',
    'networksPerSecond',
    'networkBurst',
    'relayNetworkBytesPerSecond',
    'relayEndpointBytesPerSecond',
  ];
  for (const key of positive) {
    if (!Number.isFinite(options[key]) || options[key] <= 0) {
      throw new Error(`rolodex option ${key} must be a positive number, got ${String(options[key])}`);
    }
  }
  for (const key of ['summaryIntervalMs', 'joinFlushMs'] as const) {
    if (!Number.isFinite(options[key]) || options[key] < 0) {
      throw new Error(`rolodex option ${key} must be zero or more, got ${String(options[key])}`);
    }
  }
  for (const key of ['relayNetworkBytesPerSecond', 'relayEndpointBytesPerSecond'] as const) {
    if (options[key] < MIN_RELAY_BUDGET_BYTES) {
      throw new Error(`rolodex option ${key} must be at least one full-size record (${MIN_RELAY_BUDGET_BYTES} bytes), got ${options[key]}`);
    }
  }
  if (options.budgetBurstBytes < 1200) {
    throw new Error(`rolodex option budgetBurstBytes must be at least one datagram (1200 bytes), got ${options.budgetBurstBytes}`);
  }
  return options;
}
