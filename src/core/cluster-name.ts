/**
 * A cluster's name (`--cluster-name`): what keeps two clusters on one Redis apart. Every key and
 * channel of a named cluster's bus, presence, leases, login throttle and traffic counters begins
 * `siar@NAME:`, an unnamed one's `siar:` (as before names existed); the name cannot hold `:` or `@`,
 * so no two clusters' keys can ever meet. The server's option (src/server/options.ts) and the Redis
 * adapters (src/adapters/index.ts) both check a name against this.
 */

/** Letters, digits, `-` and `_`, beginning with a letter or digit, 1 to 32 characters. */
export const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

/** What a cluster name may be, for people. */
export const CLUSTER_NAME_RULE = '1 to 32 letters, digits, - and _, beginning with a letter or digit';

/** The start of every Redis key and channel of the cluster `name` (null: the unnamed cluster). */
export function clusterKeyPrefix(name: string | null | undefined): string {
  if (name === null || name === undefined) return 'siar:';
  if (!CLUSTER_NAME.test(name)) throw new Error(`${JSON.stringify(name.slice(0, 40))} is not a cluster name: ${CLUSTER_NAME_RULE}.`);
  return `siar@${name}:`;
}
