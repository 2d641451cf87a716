/**
 * `siar server` flags for attachments and shadow listeners (docs/PROTOCOL-transfer.md §Limits).
 * Kept beside the transfer code so the server command only has to add them.
 */
import type { Argv } from 'yargs';
import type { ServerConfig } from '../server/config.js';
import { flagValue as named, parseByteSize, parseDuration, parsePortRange } from './units.js';

export interface TransferFlags {
  'transfer-host'?: string;
  'transfer-ports'?: string;
  'max-attachment'?: string;
  'max-message-attachments'?: string;
  'transfer-timeout'?: string;
  'transfer-idle-timeout'?: string;
  'max-transfers'?: number;
  'max-transfers-per-member'?: number;
  'upload-window'?: string;
  'partial-retention'?: string;
  'min-free-disk'?: string;
}

export function withTransferFlags<T>(y: Argv<T>) {
  return y
    .option('transfer-host', { type: 'string', group: 'Attachments:', describe: 'address shadow listeners bind to and advertise (default: the address the client reached)' })
    .option('transfer-ports', { type: 'string', group: 'Attachments:', describe: 'port range for shadow listeners, e.g. 40000-40099, picked at random (default: any free port)' })
    .option('max-attachment', { type: 'string', group: 'Attachments:', describe: 'largest attachment, e.g. 1GiB, 500M (default 1GiB)' })
    .option('max-message-attachments', { type: 'string', group: 'Attachments:', describe: 'largest total of one message\'s attachments (default 4GiB)' })
    .option('transfer-timeout', { type: 'string', group: 'Attachments:', describe: 'how long a shadow listener waits for its peer, e.g. 60s (the ticket lifetime)' })
    .option('transfer-idle-timeout', { type: 'string', group: 'Attachments:', describe: 'a data connection silent this long is closed, e.g. 60s' })
    .option('max-transfers', { type: 'number', group: 'Attachments:', describe: 'live transfers on the whole server (default 256)' })
    .option('max-transfers-per-member', { type: 'number', group: 'Attachments:', describe: 'live transfers per member (default 8)' })
    .option('upload-window', { type: 'string', group: 'Attachments:', describe: 'a message whose attachments are not all uploaded this long after SEND expires, e.g. 24h' })
    .option('partial-retention', { type: 'string', group: 'Attachments:', describe: 'an interrupted upload is resumable this long, e.g. 1h (0: not resumable)' })
    .option('min-free-disk', { type: 'string', group: 'Attachments:', describe: 'refuse uploads (DISK_FULL) that would leave less than this free on the data disk, e.g. 1GiB (default 64MiB)' });
}

/** The ServerConfig overrides the flags ask for; throws with a readable message on a bad value. */
export function transferConfigFromFlags(f: TransferFlags): Partial<ServerConfig> {
  const out: Partial<ServerConfig> = {};
  if (f['transfer-host']) out.transferHost = f['transfer-host'];
  if (f['transfer-ports']) out.transferPorts = named('--transfer-ports', () => parsePortRange(f['transfer-ports']!));
  if (f['max-attachment']) out.maxAttachmentBytes = named('--max-attachment', () => parseByteSize(f['max-attachment']!));
  if (f['max-message-attachments']) out.maxMessageAttachmentBytes = named('--max-message-attachments', () => parseByteSize(f['max-message-attachments']!));
  if (f['transfer-timeout']) out.transferConnectTimeoutMs = named('--transfer-timeout', () => parseDuration(f['transfer-timeout']!));
  if (f['transfer-idle-timeout']) out.transferIdleTimeoutMs = named('--transfer-idle-timeout', () => parseDuration(f['transfer-idle-timeout']!));
  if (f['max-transfers'] !== undefined) out.maxTransfers = f['max-transfers'];
  if (f['max-transfers-per-member'] !== undefined) out.maxTransfersPerMember = f['max-transfers-per-member'];
  if (f['upload-window']) out.uploadWindowMs = named('--upload-window', () => parseDuration(f['upload-window']!));
  if (f['partial-retention']) out.partialRetentionMs = named('--partial-retention', () => parseDuration(f['partial-retention']!));
  if (f['min-free-disk']) out.minFreeDiskBytes = named('--min-free-disk', () => parseByteSize(f['min-free-disk']!));
  return out;
}
