// A replica's --fsync modes, apart from cluster.ts so that the command line can name them without
// loading the cluster (and its proxies) for every command.

/** When a replica syncs its durable state: every write, a batch of writes at once, or never. */
export const FSYNC = ["always", "batch", "never"] as const;
export type Fsync = (typeof FSYNC)[number];
