/**
 * The free-space floor for what members and registrants add to the database (issue 20). Uploads
 * kept `--min-free-disk` free since issue 7; messages and registrations did not, so a member could
 * send 48 KiB messages until the disk was full, and every write then failed. SEND and REGISTER are
 * now refused with DISK_FULL, before anything is written, when they would leave less than the same
 * floor free. Logins, reads and their marks, and the administrator's work still write: their rows
 * are small, and the reserve is what lets the administrator log in and act on a full disk.
 *
 * statfs runs at most every SAMPLE_MS, on libuv's pool (never blocking the event loop); the bytes
 * accepted since the last sample are subtracted from it, so a flood cannot outrun the sample.
 */
import { SiarError } from '../protocol/index.js';
import { freeBytes } from '../transfer/disk-space.js';
import { formatBytes } from '../protocol/units.js';
import type { ServerConfig } from './config.js';

const SAMPLE_MS = 250;
/** A stored row costs more than its text: the row, its index entries, the log frame before the checkpoint. */
const ROW_OVERHEAD_BYTES = 512;

export class DiskFloor {
  private free = 0;
  private sampledAt = -Infinity;
  private acceptedSinceSample = 0;
  private sampling: Promise<void> | null = null;

  /** Reads the floor (minFreeDiskBytes; 0: none, and no statfs) and the data dir from `config` each time, as uploads do. */
  constructor(private readonly config: Pick<ServerConfig, 'dataDir' | 'minFreeDiskBytes'>, private readonly now: () => number = Date.now) {}

  /**
   * Counts `bytes` about to be written for `what` ("your message"), or throws DISK_FULL (a
   * sentence saying what was not stored and why) when they would leave less than the floor free.
   */
  async reserve(bytes: number, what: string): Promise<void> {
    const floor = this.config.minFreeDiskBytes;
    if (floor <= 0) return;
    if (this.now() - this.sampledAt >= SAMPLE_MS) await (this.sampling ??= this.sample());
    const cost = bytes + ROW_OVERHEAD_BYTES;
    const left = this.free - this.acceptedSinceSample;
    if (left - cost < floor) {
      throw new SiarError('DISK_FULL',
        `The server's disk is nearly full (${formatBytes(Math.max(0, left))} free, ${formatBytes(floor)} kept in reserve): `
        + `${what} was not stored. Try again later.`);
    }
    this.acceptedSinceSample += cost;
  }

  private async sample(): Promise<void> {
    try {
      this.free = await freeBytes(this.config.dataDir);
    } catch {
      this.free = Infinity; // statfs failed: no verdict is better than refusing everyone
    } finally {
      this.acceptedSinceSample = 0;
      this.sampledAt = this.now();
      this.sampling = null;
    }
  }
}
