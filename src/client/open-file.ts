/**
 * Opens a file with the system's default application: `open` on macOS, `xdg-open` elsewhere,
 * found on PATH. The program runs detached, without a shell, with the absolute path as its one
 * argument, so no file name can become a command or an option.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/** The opener's name on this platform. */
export function openerName(platform: NodeJS.Platform = process.platform): string {
  return platform === 'darwin' ? 'open' : 'xdg-open';
}

/** The executable `name` in the folders of `searchPath`, or null. */
export function findOnPath(name: string, searchPath = process.env.PATH ?? ''): string | null {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export type OpenOutcome = { opened: true; opener: string } | { opened: false; opener: string };

/**
 * Starts the default application on `file`; resolves once the opener started ({ opened: false }
 * when there is none on PATH), rejects when it could not be started.
 */
export function openWithDefaultApp(file: string, opts: { platform?: NodeJS.Platform; searchPath?: string } = {}): Promise<OpenOutcome> {
  const opener = openerName(opts.platform);
  const program = findOnPath(opener, opts.searchPath);
  if (!program) return Promise.resolve({ opened: false, opener });
  return new Promise((resolve, reject) => {
    const child = spawn(program, [path.resolve(file)], { detached: true, stdio: 'ignore', shell: false });
    child.once('error', reject);
    child.once('spawn', () => {
      child.unref();
      resolve({ opened: true, opener });
    });
  });
}
