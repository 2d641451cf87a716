/**
 * `siar/client`: the siar client as a library, for scripts and programs (README.md §Scripts).
 *
 *   import { SiarClient, parseServerAddress } from 'siar/client';
 *   const client = await SiarClient.connect(parseServerAddress(process.env.SIAR_SERVER));
 *   await client.login('unhas', password, { popups: false });
 *   await client.send({ to: ['ugm'], subject: 'Rapat', body: 'Senin, 09.00' });
 *
 * SiarClient is one connection; SiarSession a connection kept up all day (reconnects, fails over
 * along a server list, resumes its session by token, replays missed popups once each). With a
 * list (`a:7400,b:7400`): `connectFirst(serverOrder(parseServerList(list)), {})`. Both have one typed method per protocol verb (calls.ts) and emit
 * the server's pushes as typed events ('popup', 'read', …). Refusals reject with RemoteError,
 * whose `code` is an ErrorCode. Attachments: declareFile, sendMessage, uploadFile, downloadAttachment.
 * Nothing here draws on a terminal or reads the command line.
 */
export {
  FrameTooLongError, RemoteError, SiarClient, connectFirst, formatAddress, parseServerAddress, parseServerList, serverOrder,
  type ClientEvents, type ConnectOptions, type Reply, type ServerAddress, type ServerLimits,
} from './connection.js';
export {
  OfflineError, SiarSession,
  type BackoffOptions, type SessionEvents, type SessionOptions, type SessionState, type SessionStatus,
} from './session.js';
export {
  AdminCalls, SiarCalls,
  type AuditFilter, type ChannelSettings, type InboxPage, type MailFilter, type OutgoingMessage, type Page, type PushEvents,
  type RegistrationFilter, type RegistrationInput, type SubscriptionReply,
} from './calls.js';
export {
  wireArgs,
  type ApproveReply, type AuditEvent, type BackupList, type BackupRow, type BackupStatus, type ChannelChange, type CommandHelp,
  type Decided, type Decision, type Downloaded, type ExpiryReply, type GroupChange, type LiveTransfer, type LoginAlert,
  type LoginInfo, type MailEvent, type MailRetryReply, type MailRow, type MemberChange, type MemberRow, type OnlineReply,
  type OnlineUser, type ReadReceipt, type RegisterReply, type RejectReply, type SendFailed, type SendReply, type SentNotice,
  type ServerHello, type Stats, type SubscriptionChange, type TrafficMinute, type TransferFailed, type TransferOffer,
  type Uploaded, type WhoAmI,
} from './replies.js';
export {
  TransferError, declareFile, downloadAttachment, safeFileName, sendMessage, uploadFile,
  type DownloadResult, type LocalFile, type OnProgress, type Progress, type SendFields, type SentMessage, type TransferErrorCode,
  type TransferOptions, type UploadResult,
} from './transfer.js';
export {
  ERRORS, isErrorCode, parseVia, type AttachmentInfo, type ChannelAccess, type ChannelRecord, type ChannelRole, type ChannelRosterEntry,
  type DirectoryEntry, type ErrorCode, type GroupMemberEntry, type GroupRecord, type MessageRecord, type PopupRecord,
  type PublishPolicy, type RecipientInfo, type RegistrationRecord, type TrafficTotals, type TransferProgress,
} from '../protocol/index.js';
export type { Args } from '../protocol/index.js';
