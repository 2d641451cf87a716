export { ForeignKeyError, MailKeyError, MailSealer, SealError } from './seal.js';
export {
  credentialsMail,
  passwordResetMail,
  rejectionMail,
  type CredentialsMailInput,
  type MailContent,
  type PasswordResetMailInput,
  type RejectionMailInput,
} from './templates.js';
export {
  createMailTransport,
  SMTP_TIMEOUTS,
  type MailEnvelope,
  type MailTransport,
  type MailTransportOptions,
} from './transport.js';
export { defaultBackoff, MailWorker, type MailStore, type MailWorkerEvents, type MailWorkerOptions } from './worker.js';
export { decodeEml, listMailFiles, mailFileName, mailFolder, parseMailFileName, readMailFile, type DecodedMail, type MailFileEntry } from './mail-folder.js';
