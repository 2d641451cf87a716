/**
 * `siar server` flags for what one peer, one address or one member may hold (docs/PROTOCOL.md
 * §Limits): output left untaken, and connections after login. Kept beside the server code so the
 * server command only has to add them.
 */
import type { Argv } from 'yargs';
import { flagValue as named, parseByteSize, parseDuration } from '../transfer/units.js';
import type { ServerConfig } from './config.js';

export interface ConnectionFlags {
  'output-stall-timeout'?: string;
  'max-output-per-address'?: string;
  'max-output-total'?: string;
  'max-connections-per-member'?: number;
  'max-logged-in-per-address'?: number;
  'admin-reserved-connections'?: number;
}

export function withConnectionFlags<T>(y: Argv<T>) {
  return y
    .option('output-stall-timeout', { type: 'string', group: 'Connections:', describe: 'a peer that takes none of its replies for this long is disconnected, e.g. 30s (default 30s)' })
    .option('max-output-per-address', { type: 'string', group: 'Connections:', describe: 'unsent output held for the peers of one address that are not reading; past it the longest backed up is dropped (default 32MiB)' })
    .option('max-output-total', { type: 'string', group: 'Connections:', describe: 'unsent output held for peers that are not reading, on the whole server (default 256MiB)' })
    .option('max-connections-per-member', { type: 'number', group: 'Connections:', describe: 'logged-in connections one member may hold at once (default 64)' })
    .option('max-logged-in-per-address', { type: 'number', group: 'Connections:', describe: 'logged-in connections from one address, the administrator\'s aside (default 512)' })
    .option('admin-reserved-connections', { type: 'number', group: 'Connections:', describe: 'of --max-connections, the last ones only a LOGIN as administrator may take (default 4; at most half)' });
}

/** The ServerConfig overrides the flags ask for; throws with a readable message on a bad value. */
export function connectionConfigFromFlags(f: ConnectionFlags): Partial<ServerConfig> {
  const out: Partial<ServerConfig> = {};
  if (f['output-stall-timeout']) out.outputStallTimeoutMs = named('--output-stall-timeout', () => positive(parseDuration(f['output-stall-timeout']!)));
  if (f['max-output-per-address']) out.maxOutputBytesPerAddress = named('--max-output-per-address', () => positive(parseByteSize(f['max-output-per-address']!)));
  if (f['max-output-total']) out.maxOutputBytesTotal = named('--max-output-total', () => positive(parseByteSize(f['max-output-total']!)));
  if (f['max-connections-per-member'] !== undefined) out.maxConnectionsPerMember = named('--max-connections-per-member', () => count(f['max-connections-per-member']!, 1));
  if (f['max-logged-in-per-address'] !== undefined) out.maxLoggedInPerAddress = named('--max-logged-in-per-address', () => count(f['max-logged-in-per-address']!, 1));
  if (f['admin-reserved-connections'] !== undefined) out.adminReservedConnections = named('--admin-reserved-connections', () => count(f['admin-reserved-connections']!, 0));
  return out;
}

function positive(n: number): number {
  if (n <= 0) throw new Error('must be more than 0.');
  return n;
}

function count(n: number, min: number): number {
  if (!Number.isInteger(n) || n < min) throw new Error(`must be a whole number of at least ${min}.`);
  return n;
}
