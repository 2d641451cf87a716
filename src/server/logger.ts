import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

/** Paths pino blanks out wherever they appear: secrets never reach the log. */
export const REDACT_PATHS = [
  'password', '*.password', 'token', '*.token', 'newPassword', '*.newPassword',
  'body', '*.body', 'text', '*.text', 'sealedText', '*.sealedText',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { app: 'siar' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}

/**
 * `json`: one JSON object per line (for log collectors); `pretty`: readable lines for a person.
 * `siar server --log-format` defaults to pretty on a terminal, JSON into a file, a pipe or a journal.
 */
export type LogFormat = 'json' | 'pretty';

/**
 * The server's logger on stdout (or `destination`). Pretty lines go through pino-pretty in this
 * thread (synchronously, so nothing is lost at exit); redaction happens in pino before either format.
 */
export function createConsoleLogger(level: string, format: LogFormat, destination?: DestinationStream): Logger {
  if (format === 'json') return createLogger(level, destination);
  return createLogger(level, pretty({
    destination: destination ?? 1,
    sync: true,
    colorize: destination === undefined ? process.stdout.isTTY === true : false,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'app',
  }));
}

/** A warning logged at most once per 10 s, with how many were left out since the previous line. */
export function rateLimitedWarn(log: Logger, msg: string, level: 'warn' | 'error' = 'warn'): (fields: Record<string, unknown>) => void {
  let last = -Infinity;
  let skipped = 0;
  return (fields) => {
    const now = Date.now();
    if (now - last < 10_000) {
      skipped++;
      return;
    }
    last = now;
    log[level]({ ...fields, ...(skipped > 0 ? { alsoSinceLastLine: skipped } : {}) }, msg);
    skipped = 0;
  };
}

/**
 * The log line for Redis (--bus) being unreachable, one per thing done instead (`meaning`), each at
 * most once per 10 s: "Redis (--bus) unreachable: <meaning>", with the reason.
 */
export function degradedLog(log: Logger): (err: Error, meaning: string) => void {
  const warners = new Map<string, (fields: Record<string, unknown>) => void>();
  return (err, meaning) => {
    let warn = warners.get(meaning);
    if (!warn) {
      if (warners.size >= 100) warners.clear(); // meanings are a handful of fixed sentences; a bound all the same
      warners.set(meaning, (warn = rateLimitedWarn(log, `Redis (--bus) unreachable: ${meaning}`)));
    }
    warn({ reason: err.message });
  };
}
