/**
 * Room on the disk that holds <data>: uploads are refused up front when they would leave less
 * than the configured floor free (so attachments never starve the database), and a disk that
 * fills up anyway during an upload (ENOSPC, or SQLite's SQLITE_FULL at commit) is recognised
 * so the uploader hears DISK_FULL rather than INTERNAL.
 */
import { statfs } from 'node:fs/promises';

/** Bytes an unprivileged process may still write on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** True for the errors a full disk (or an exhausted quota) produces. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && DISK_FULL_CODES.has(code);
}

