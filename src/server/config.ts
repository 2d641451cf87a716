import path from 'node:path';
import { DEFAULT_MAX_FRAME_BYTES } from '../protocol/index.js';

/** Every limit is a named option with a default (docs/PROTOCOL.md §Limits). */
export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  smtpUrl?: string;
  mailFrom: string;
  logLevel: string;
  /** Longest frame accepted; a longer one closes the connection. */
  maxFrameBytes: number;
  /** A connection that sends nothing for this long is closed (clients PING meanwhile). */
  idleTimeoutMs: number;
  /** Lifetime of a session token. */
  sessionTtlMs: number;
  /** Frames read but not yet answered on one connection before reading pauses. */
  maxQueuedFrames: number;
  /** Unsent bytes queued to one slow peer before it is disconnected. */
  maxOutputBytes: number;
  /** Bad frames tolerated on one connection before it is closed. */
  maxBadFrames: number;
  /** Largest page a list command returns. */
  maxPageSize: number;
  /** Longest message body and subject, in characters. */
  maxBodyChars: number;
  maxSubjectChars: number;
  /** Pending popups pushed at login. */
  maxPopupsAtLogin: number;
  /** Max simultaneous connections the server accepts. */
  maxConnections: number;
  /** SQLite durability: NORMAL (default, WAL-safe) or FULL (power-loss safe). */
  synchronous: 'NORMAL' | 'FULL';
}

export function defaultConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const base: ServerConfig = {
    host: '127.0.0.1',
    port: 7400,
    dataDir: path.resolve('data'),
    mailFrom: 'siar <siar@localhost>',
    logLevel: 'info',
    maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
    idleTimeoutMs: 5 * 60_000,
    sessionTtlMs: 12 * 60 * 60_000,
    maxQueuedFrames: 64,
    maxOutputBytes: 8 * 1024 * 1024,
    maxBadFrames: 10,
    maxPageSize: 500,
    maxBodyChars: 48 * 1024,
    maxSubjectChars: 200,
    maxPopupsAtLogin: 1000,
    maxConnections: 19_000,
    synchronous: 'NORMAL',
  };
  const merged = { ...base, ...stripUndefined(overrides) };
  merged.dataDir = path.resolve(merged.dataDir);
  return merged;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
