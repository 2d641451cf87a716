import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * What a siar client remembers between runs: the server address, the username, and a pending
 * registration request. Never a password: the mailed password and the member's own are typed in
 * (the session keeps them in memory for the life of the process only), and no token is stored
 * either, because a token alone cannot re-attach a new connection to the member's popups.
 */
export interface ClientConfig {
  /** `host:port` of the siar server. */
  server?: string;
  username?: string;
  /** A registration request sent from this machine and not yet known to be decided. */
  pendingRegistration?: { id: number; username: string; email: string; server: string };
}

const KEYS: ReadonlyArray<keyof ClientConfig> = ['server', 'username', 'pendingRegistration'];

/** `$XDG_CONFIG_HOME/siar`, else `~/.config/siar`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME?.trim();
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'siar');
  const home = env.HOME?.trim() || os.homedir();
  return path.join(home, '.config', 'siar');
}

export class ConfigStore {
  readonly file: string;

  constructor(readonly dir: string = configDir()) {
    this.file = path.join(dir, 'client.json');
  }

  /** The remembered settings; an absent, unreadable or malformed file reads as empty. */
  load(): ClientConfig {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch {
      return {};
    }
    return sanitize(raw);
  }

  /** Merges `patch` into the file (a key set to undefined is removed); written atomically, mode 0600. */
  save(patch: Partial<ClientConfig>): ClientConfig {
    const next: Record<string, unknown> = { ...this.load() };
    for (const key of KEYS) {
      if (!(key in patch)) continue;
      const value = patch[key];
      if (value === undefined) delete next[key];
      else next[key] = value;
    }
    const clean = sanitize(next);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(clean, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
    return clean;
  }
}

/** Keeps only the known keys with the right types, so a hand-edited file cannot smuggle anything in. */
function sanitize(raw: unknown): ClientConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return {};
  const r = raw as Record<string, unknown>;
  const out: ClientConfig = {};
  if (typeof r.server === 'string' && r.server.length <= 300) out.server = r.server;
  if (typeof r.username === 'string' && r.username.length <= 64) out.username = r.username;
  const p = r.pendingRegistration;
  if (p && typeof p === 'object') {
    const q = p as Record<string, unknown>;
    if (typeof q.id === 'number' && Number.isSafeInteger(q.id) && typeof q.username === 'string'
      && typeof q.email === 'string' && typeof q.server === 'string') {
      out.pendingRegistration = { id: q.id, username: q.username, email: q.email, server: q.server };
    }
  }
  return out;
}
