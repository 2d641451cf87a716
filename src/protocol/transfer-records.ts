/**
 * What TRANSFERS reports (docs/PROTOCOL-transfer.md): one row per live shadow listener or
 * transfer. The transfer service lists them (src/transfer/service.ts), clients decode them.
 */
import type { ArgInput, Args } from './frames.js';

export type TransferDirection = 'upload' | 'download';
export type TransferPhase = 'waiting' | 'streaming' | 'committing' | 'finished';

/** A live shadow listener or transfer (one TRANSFERS row). */
export interface LiveTransfer {
  transfer: string;
  direction: TransferDirection;
  phase: TransferPhase;
  username: string;
  messageId: number;
  attachmentId: number;
  name: string;
  size: number;
  /** Where the bytes start (a resumed upload, a download from an offset). */
  offset: number;
  /** Bytes of the attachment moved or held so far (offset + streamed). */
  bytes: number;
  /** The shadow listener's host:port. */
  addr: string;
  peer: string;
  since: string;
}

export function liveTransferToArgs(t: LiveTransfer): ArgInput {
  return {
    transfer: t.transfer, direction: t.direction, phase: t.phase, username: t.username, message: t.messageId,
    attachment: t.attachmentId, name: t.name, size: t.size, offset: t.offset, bytes: t.bytes, addr: t.addr,
    peer: t.peer, since: t.since,
  };
}

function num(a: Args, key: string): number {
  const n = Number(a.get(key) ?? 0);
  return Number.isFinite(n) ? n : 0;
}

export function argsToLiveTransfer(a: Args): LiveTransfer {
  return {
    transfer: a.get('transfer') ?? '', direction: (a.get('direction') ?? '') as TransferDirection, phase: (a.get('phase') ?? '') as TransferPhase,
    username: a.get('username') ?? '', messageId: num(a, 'message'), attachmentId: num(a, 'attachment'), name: a.get('name') ?? '',
    size: num(a, 'size'), offset: num(a, 'offset'), bytes: num(a, 'bytes'), addr: a.get('addr') ?? '', peer: a.get('peer') ?? '',
    since: a.get('since') ?? '',
  };
}
