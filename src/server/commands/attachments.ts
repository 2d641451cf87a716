/**
 * Attachments on the control connection (docs/PROTOCOL-transfer.md §Commands). The bytes never
 * travel here: UPLOAD and DOWNLOAD only hand out a shadow listener's address and one-time
 * ticket; the TransferService does the rest and reports back with pushes.
 */
import { SiarError, encodeAttachment, liveTransferToArgs, type ArgInput, type Args } from '../../protocol/index.js';
import { mediaTypeFromName } from '../../transfer/media-type.js';
import type { TransferOffer, TransferService } from '../../transfer/service.js';
import { checkAttachmentName, decodeDeclaration } from '../../transfer/wire.js';
import type { ServerConfig } from '../config.js';
import type { AttachmentDeclaration, AttachmentMeta, Message, NewMessage } from '../../core/ports/store.js';
import { flag, requireId } from '../validation.js';
import { authed, type AuthedContext, type Command } from './types.js';

/**
 * SEND's `attach=SIZE,SHA256,NAME` values (repeatable), checked against the limits before the
 * message is stored, so nothing is accepted that could never be uploaded.
 */
export function parseAttachmentDeclarations(args: Args, config: ServerConfig): AttachmentDeclaration[] {
  const values = args.getAll('attach');
  if (values.length > config.maxAttachmentsPerMessage) {
    throw new SiarError('BAD_ARGUMENT', `A message may carry at most ${config.maxAttachmentsPerMessage} attachments.`);
  }
  const names = new Set<string>();
  let total = 0;
  return values.map((value) => {
    const d = decodeDeclaration(value);
    if (!d) throw new SiarError('BAD_ARGUMENT', 'attach= is SIZE,SHA256,NAME (size in bytes, sha256 in lower-case hex).');
    const problem = checkAttachmentName(d.name);
    if (problem) throw new SiarError('BAD_ARGUMENT', `The attachment name "${d.name.slice(0, 60)}" ${problem}.`);
    // Recipients save attachments side by side under their names.
    const key = d.name.normalize('NFC').toLowerCase();
    if (names.has(key)) throw new SiarError('BAD_ARGUMENT', `Two attachments are named "${d.name}".`);
    names.add(key);
    if (d.size > config.maxAttachmentBytes) {
      throw new SiarError('TOO_LARGE', `"${d.name}" has ${d.size} bytes; the limit is ${config.maxAttachmentBytes}.`);
    }
    total += d.size;
    if (total > config.maxMessageAttachmentBytes) {
      throw new SiarError('TOO_LARGE', `The attachments add up to more than ${config.maxMessageAttachmentBytes} bytes.`);
    }
    return { ...d, mediaType: mediaTypeFromName(d.name) };
  });
}

/** What storeMessage needs for declared attachments: none, or the list and its upload deadline. */
export function attachmentFields(attachments: AttachmentDeclaration[], config: ServerConfig): Pick<NewMessage, 'attachments' | 'uploadDeadline'> {
  if (attachments.length === 0) return {};
  return { attachments, uploadDeadline: new Date(Date.now() + config.uploadWindowMs).toISOString() };
}

/** The extra fields of SEND's OK for a message that waits for its attachments. */
export function sendingReply(message: Message): ArgInput {
  return {
    state: message.state,
    uploadDeadline: message.uploadDeadline ?? undefined,
    attachment: message.attachments.map(attachmentValue),
  };
}

function attachmentValue(a: AttachmentMeta): string {
  return encodeAttachment({ id: a.id, name: a.name, size: a.size, sha256: a.sha256, type: a.mediaType });
}

function transfers(ctx: AuthedContext): TransferService {
  const t = ctx.services.transfers;
  if (!t) throw new SiarError('INTERNAL', 'This server has no transfer service.');
  return t;
}

function offerArgs(o: TransferOffer): ArgInput {
  const a = o.attachment;
  return {
    transfer: o.transfer, addr: o.addr, ticket: o.ticket, expiresAt: o.expiresAt, offset: o.offset,
    message: a.messageId, attachment: a.id, size: a.size, sha256: a.sha256, type: a.mediaType, name: a.name,
  };
}

function requester(ctx: AuthedContext) {
  return { conn: ctx.conn, userId: ctx.auth.user.id, username: ctx.auth.user.username };
}

export const attachmentCommands: Command[] = [
  authed('UPLOAD', 'user', 'UPLOAD message=ID attachment=ID [restart=1] — opens a shadow listener for one declared attachment; resumes a partial upload unless restart=1', async (ctx, args) => {
    const offer = await transfers(ctx).openUpload(requester(ctx), {
      messageId: requireId(args, 'message'), attachmentId: requireId(args, 'attachment'), restart: flag(args, 'restart'),
    });
    return offerArgs(offer);
  }),

  authed('DOWNLOAD', 'user', 'DOWNLOAD message=ID attachment=ID [offset=N] — opens a shadow listener that sends one attachment (sender and recipients only)', async (ctx, args) => {
    const raw = args.get('offset') ?? '0';
    if (!/^(0|[1-9][0-9]{0,15})$/.test(raw)) throw new SiarError('BAD_ARGUMENT', 'offset must be a byte count.');
    const offer = await transfers(ctx).openDownload(requester(ctx), {
      messageId: requireId(args, 'message'), attachmentId: requireId(args, 'attachment'), offset: Number(raw),
    });
    return offerArgs(offer);
  }),

  authed('CANCEL', 'user', 'CANCEL id= — gives up a message still waiting for its attachments (nobody will see it)', async (ctx, args) => {
    const message = await transfers(ctx).cancelMessage(ctx.auth.user.id, requireId(args));
    return { id: message.id, state: 'cancelled' };
  }),

  authed('TRANSFERS', 'admin', 'TRANSFERS — live shadow listeners and transfers', async (ctx) => {
    const service = transfers(ctx);
    const list = service.list();
    for (const t of list) ctx.item(liveTransferToArgs(t));
    return { count: list.length, listeners: service.liveListeners() };
  }),
];
