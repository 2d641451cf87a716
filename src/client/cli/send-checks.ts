/**
 * What `siar send` checks before a message goes out, and what it says after: sizes against the
 * limits the server announced in its HELLO, in the sender's terms and with what to do instead;
 * a warning when the message reached nobody.
 */
import { FrameTooLongError, type SiarClient } from '../connection.js';
import { CliError, printErr } from './common.js';

const ATTACH_INSTEAD = 'Send long text as an attachment instead: save it to a file, give --attach FILE, and keep --body to a line that says what it is.';

const count = (n: number) => n.toLocaleString('en-US');

/** Refuses, before sending, a subject or body longer than the server takes. */
export function checkMessageSize(client: SiarClient, subject: string, body: string): void {
  const { maxBody, maxSubject } = client.limits;
  // The server trims the subject before measuring it; the body is kept as written.
  const subjectChars = subject.trim().length;
  if (maxSubject !== undefined && subjectChars > maxSubject) {
    throw new CliError(`The subject is ${count(subjectChars)} characters; the server takes at most ${count(maxSubject)}. Shorten it and put the rest in the body.`);
  }
  if (maxBody !== undefined && body.length > maxBody) {
    throw new CliError(`The body is ${count(body.length)} characters; the server takes at most ${count(maxBody)}. ${ATTACH_INSTEAD}`);
  }
}

/** A SEND too long for one frame (refused by the client, nothing sent), in the sender's terms. */
export function explainSendFailure(err: unknown): unknown {
  if (!(err instanceof FrameTooLongError)) return err;
  return new CliError(
    `The message is ${count(err.bytes)} bytes once encoded (a line break, "|" or "\\" takes two bytes, a letter beyond ASCII two to four), `
      + `and the server takes at most ${count(err.maxBytes)} bytes in one message. Nothing was sent. ${ATTACH_INSTEAD}`,
  );
}

/** Says on stderr (also with --json) that a sent message reached nobody. */
export function warnIfNobody(id: number | string, recipients: number, channel: string | undefined): void {
  if (recipients > 0) return;
  const why = channel ? `#${channel.replace(/^#/, '')} has no subscribers besides you` : 'it had no recipients';
  printErr(`siar: warning: message ${id} reached nobody: ${why}.\n`);
}
