import { pino, type Logger, type DestinationStream } from 'pino';

/** Paths pino blanks out wherever they appear: secrets never reach the log. */
export const REDACT_PATHS = [
  'password', '*.password', 'token', '*.token', 'newPassword', '*.newPassword',
  'body', '*.body', 'text', '*.text', 'sealedText', '*.sealedText',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { app: 'siar' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
