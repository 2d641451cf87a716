import path from 'node:path';
import type { ServerConfig } from './config.js';
import { FALLBACK_MAX_CONNECTIONS, planConnectionCap, readOpenFilesLimit } from './fd-limit.js';
import { tableDefaults } from './options.js';

/**
 * The defaults of every field come from the option table (options.ts), the one place they are
 * written; `overrides` replace whole fields (a loginThrottle given is the whole of it).
 */
export function defaultConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  // The table sets every field but tls (from the TLS files) and maxConnections, set below unless given.
  const base = { ...tableDefaults(), tls: null, maxConnections: FALLBACK_MAX_CONNECTIONS } as ServerConfig;
  const given = stripUndefined(overrides);
  const merged = { ...base, ...given };
  merged.dataDir = path.resolve(merged.dataDir);
  if (given.maxConnections === undefined) merged.maxConnections = planConnectionCap(undefined, readOpenFilesLimit(), merged).maxConnections;
  return merged;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
