/**
 * Tests that need something of the machine: root to mount a tmpfs, /dev/full. Where it is missing
 * such a test is skipped with the reason; under CI it fails instead, because CI runs as root and
 * installs what the tests need (.ci/run), so a capability missing there is a broken CI, not a reason
 * for a test to drop out of the count quietly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';

/** CI=true, as .ci/run and every CI service set it (an empty value, "0" or "false" is not CI). */
export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI?.trim().toLowerCase();
  return v !== undefined && v !== '' && v !== '0' && v !== 'false';
}

/**
 * True when the capability is there (`missing` is false): run the test. Otherwise the test is
 * skipped with the reason, or, under CI, fails with it; either way the caller returns at once:
 *
 *     if (!requireCapability(t, 'a tmpfs mount', cannotMount())) return;
 */
export function requireCapability(t: Test, name: string, missing: string | false): boolean {
  if (missing === false) return true;
  if (inCI()) t.fail(`needs ${name}, which CI must provide: ${missing}`);
  else t.plan(0, `needs ${name}: ${missing}`);
  return false;
}

let mountProbe: string | false | undefined;

/** False when this process may mount a tmpfs (root with CAP_SYS_ADMIN, `mount` installed), else why not. Probed once. */
export function cannotMount(): string | false {
  if (mountProbe !== undefined) return mountProbe;
  const dir = mkdtempSync(path.join(tmpdir(), 'siar-mount-probe-'));
  try {
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'siar-probe', dir], { encoding: 'utf8' });
    if (r.error) mountProbe = `mount is not available: ${r.error.message}`;
    else if (r.status !== 0) mountProbe = `mount -t tmpfs is not permitted here: ${(r.stderr || r.stdout).trim()}`;
    else {
      spawnSync('umount', [dir]);
      mountProbe = false;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return mountProbe;
}

/** False when /dev/full (a device whose every write fails with ENOSPC) exists, else why not. */
export function noDevFull(): string | false {
  return existsSync('/dev/full') ? false : 'there is no /dev/full';
}
