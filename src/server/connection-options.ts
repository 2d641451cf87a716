/**
 * `siar server` flags for what peers that do not read may hold (docs/PROTOCOL.md §Limits). Kept
 * beside the server code so the server command only has to add them.
 */
import type { Argv } from 'yargs';
import { parseByteSize, parseDuration } from '../transfer/units.js';
import type { ServerConfig } from './config.js';

export interface ConnectionFlags {
  'output-stall-timeout'?: string;
  'max-output-per-address'?: string;
  'max-output-total'?: string;
}

export function withConnectionFlags<T>(y: Argv<T>) {
  return y
    .option('output-stall-timeout', { type: 'string', group: 'Connections:', describe: 'a peer that takes none of its replies for this long is disconnected, e.g. 30s (default 30s)' })
    .option('max-output-per-address', { type: 'string', group: 'Connections:', describe: 'unsent output held for the peers of one address that are not reading; past it the longest backed up is dropped (default 32MiB)' })
    .option('max-output-total', { type: 'string', group: 'Connections:', describe: 'unsent output held for peers that are not reading, on the whole server (default 256MiB)' });
}

/** The ServerConfig overrides the flags ask for; throws with a readable message on a bad value. */
export function connectionConfigFromFlags(f: ConnectionFlags): Partial<ServerConfig> {
  const out: Partial<ServerConfig> = {};
  if (f['output-stall-timeout']) out.outputStallTimeoutMs = named('--output-stall-timeout', () => positive(parseDuration(f['output-stall-timeout']!)));
  if (f['max-output-per-address']) out.maxOutputBytesPerAddress = named('--max-output-per-address', () => positive(parseByteSize(f['max-output-per-address']!)));
  if (f['max-output-total']) out.maxOutputBytesTotal = named('--max-output-total', () => positive(parseByteSize(f['max-output-total']!)));
  return out;
}

function positive(n: number): number {
  if (n <= 0) throw new Error('must be more than 0.');
  return n;
}

function named<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new Error(`${flag}: ${(err as Error).message}`);
  }
}
