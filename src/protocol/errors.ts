/**
 * The one catalogue of error codes a siar peer can receive (docs/PROTOCOL.md §Errors).
 * `closes` marks errors after which the server closes the connection.
 */
export const ERRORS = {
  BAD_FRAME: { message: 'The frame could not be parsed.', closes: false },
  BAD_ESCAPE: { message: 'A field holds an unknown escape sequence.', closes: false },
  BAD_UTF8: { message: 'The frame is not valid UTF-8.', closes: false },
  FRAME_TOO_LONG: { message: 'The frame is longer than the maximum frame length.', closes: true },
  UNKNOWN_COMMAND: { message: 'Unknown command.', closes: false },
  BAD_ARGUMENT: { message: 'An argument is malformed.', closes: false },
  MISSING_ARGUMENT: { message: 'A required argument is missing.', closes: false },
  AUTH_REQUIRED: { message: 'Log in first.', closes: false },
  BAD_TOKEN: { message: 'The session token is not valid.', closes: false },
  TOKEN_EXPIRED: { message: 'The session has expired; log in again.', closes: false },
  BAD_CREDENTIALS: { message: 'Wrong username or password.', closes: false },
  ACCOUNT_SUSPENDED: { message: 'This account is suspended.', closes: false },
  SESSION_CLOSED: { message: 'This session was closed by the server.', closes: true },
  SESSION_EXPIRED: { message: 'This session has expired; log in again.', closes: true },
  FORBIDDEN: { message: 'You are not allowed to do that.', closes: false },
  PASSWORD_CHANGE_REQUIRED: { message: 'The mailed password is for the first login only; set a new password first (PASSWD, `siar passwd`).', closes: false },
  DUPLICATE_USERNAME: { message: 'That username is already taken or requested.', closes: false },
  DUPLICATE_EMAIL: { message: 'That e-mail address is already registered or requested.', closes: false },
  BAD_EMAIL: { message: 'The e-mail address is malformed.', closes: false },
  NOT_FOUND: { message: 'No such item.', closes: false },
  UNKNOWN_RECIPIENT: { message: 'A recipient is not an active member.', closes: false },
  NO_RECIPIENTS: { message: 'The message has no recipients.', closes: false },
  ALREADY_DECIDED: { message: 'That registration request was already decided.', closes: false },
  TOO_MANY_REQUESTS: { message: 'Too many requests; slow down.', closes: false },
  RATE_LIMITED: { message: 'You are sending more messages a minute than the server allows; nothing was sent. Retry in a little while.', closes: false },
  QUOTA_EXCEEDED: { message: 'Your messages and attachments take all the storage the server allows a member; nothing was sent.', closes: false },
  LOGIN_LOCKED: { message: 'Too many failed logins; this account or address is locked for a while.', closes: false },
  TOO_MANY_ERRORS: { message: 'Too many bad frames; closing the connection.', closes: true },
  TIMEOUT: { message: 'The connection was idle for too long.', closes: true },
  SHUTTING_DOWN: { message: 'The server is shutting down.', closes: true },
  // Attachments and their shadow sockets (docs/PROTOCOL-transfer.md §Errors).
  TOO_LARGE: { message: 'The attachment is larger than the server accepts.', closes: false },
  TRANSFER_BUSY: { message: 'No transfer slot or port is free right now; retry shortly.', closes: false },
  ALREADY_UPLOADED: { message: 'That attachment is already uploaded.', closes: false },
  NOT_READY: { message: 'That attachment has not been uploaded yet.', closes: false },
  MESSAGE_CLOSED: { message: 'The message expired or was cancelled before all its attachments arrived.', closes: false },
  BAD_TICKET: { message: 'The transfer ticket is not valid for this listener.', closes: true },
  TRANSFER_REFUSED: { message: 'Transfer connections are only accepted from the control connection\'s address.', closes: true },
  SIZE_MISMATCH: { message: 'More bytes arrived than the attachment declared.', closes: true },
  CHECKSUM_MISMATCH: { message: 'The bytes received do not match the declared sha256.', closes: true },
  TRANSFER_TIMEOUT: { message: 'The transfer did not start or stalled for too long.', closes: true },
  TRANSFER_ABORTED: { message: 'The transfer was interrupted before it finished.', closes: true },
  DISK_FULL: { message: 'The server\'s disk is (nearly) full: nothing was stored. Retry later.', closes: false },
  // Channels and groups (docs/PROTOCOL-channels.md §Errors).
  UNKNOWN_CHANNEL: { message: 'There is no channel by that name.', closes: false },
  CHANNEL_ARCHIVED: { message: 'That channel is archived; it keeps its history but takes no new messages.', closes: false },
  CHANNEL_RESTRICTED: { message: 'That channel is restricted to members the administrator chose.', closes: false },
  PUBLISH_DENIED: { message: 'You may not publish to that channel.', closes: false },
  UNKNOWN_GROUP: { message: 'There is no group by that name.', closes: false },
  DUPLICATE_NAME: { message: 'That name is already taken.', closes: false },
  // Alerts (docs/PROTOCOL.md §Alerts): a recalled message's body and attachments are not served.
  RECALLED: { message: 'That message was withdrawn by its sender.', closes: false },
  // Its message expired longer ago than the server keeps expired attachments (--expired-attachment-grace).
  ATTACHMENT_REMOVED: { message: 'That attachment was removed: its message expired and the server keeps expired attachments only for a grace period.', closes: false },
  // This server's store cannot do it (BACKUP on PostgreSQL); the message says what to do instead.
  NOT_SUPPORTED: { message: 'This server cannot do that with its store.', closes: false },
  // The database stayed locked (another process, a long backup step) past the busy timeout.
  BUSY: { message: 'The server is busy; try again.', closes: false },
  INTERNAL: { message: 'Internal server error.', closes: false },
} as const satisfies Record<string, { message: string; closes: boolean }>;

export type ErrorCode = keyof typeof ERRORS;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERRORS, code);
}

/** An error that travels to the peer as `ID|ERR|CODE|sentence`. */
export class SiarError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string) {
    super(message ?? ERRORS[code].message);
    this.name = 'SiarError';
    this.code = code;
  }
  get closes(): boolean {
    return ERRORS[this.code].closes;
  }
}

/** A violation of the wire format itself (framing, escaping, encoding). */
export class ProtocolError extends SiarError {
  constructor(code: 'BAD_FRAME' | 'BAD_ESCAPE' | 'BAD_UTF8' | 'FRAME_TOO_LONG', message?: string) {
    super(code, message);
    this.name = 'ProtocolError';
  }
}
