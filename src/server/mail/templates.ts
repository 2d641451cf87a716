/**
 * The texts siar sends by e-mail. Pure functions: values in, `{ subject, text }` out.
 * Values that come from a registration form are flattened to one line where they are interpolated
 * into a single line, so a crafted name cannot add lines (such as a fake "Password:" line).
 * Prose is wrapped at 72 columns: a mail whose lines all fit in 76 goes out as plain 7bit text when
 * it is ASCII, and the credentials lines are never cut (see transport.ts).
 */

export interface MailContent {
  subject: string;
  text: string;
}

export interface CredentialsMailInput {
  institution: string;
  contact: string;
  username: string;
  password: string;
  /** Where to connect, e.g. `siar.example.org:7070`; the line is left out when not given. */
  server?: string;
}

export interface RejectionMailInput {
  institution: string;
  contact: string;
  username: string;
  reason: string;
}

export type PasswordResetMailInput = CredentialsMailInput;

const SIGNATURE = ['Kind regards,', 'The siar administrator'];

/** Collapses control characters and runs of white space to single spaces. */
function oneLine(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\s]+/g, ' ').trim();
}

/** Keeps line breaks (normalised to \n) but drops other control characters. */
function multiLine(value: string): string {
  return (
    value
      .replace(/\r\n?/g, '\n')
      .replace(/[\u2028\u2029]/g, '\n')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, ' ')
      .trim()
  );
}

function greeting(contact: string): string {
  const name = oneLine(contact);
  return name ? `Dear ${name},` : 'Hello,';
}

function lines(...parts: (string | null)[]): string {
  return parts.filter((p): p is string => typeof p === 'string').join('\n') + '\n';
}

const WRAP_COLUMNS = 72;

/** Word-wraps one paragraph to WRAP_COLUMNS; a word longer than that stays whole on its own line. */
function paragraph(text: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ').filter(Boolean)) {
    if (line && line.length + 1 + word.length > WRAP_COLUMNS) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}

/** Wraps each line of a multi-line text (kept line breaks, e.g. a rejection reason). */
function paragraphs(text: string): string[] {
  return text.split('\n').flatMap((l) => (l.trim() ? paragraph(l) : ['']));
}

/** Sent when the administrator approves a registration request. */
export function credentialsMail(input: CredentialsMailInput): MailContent {
  const institution = oneLine(input.institution);
  return {
    subject: `Your siar account for ${institution} is ready`,
    text: lines(
      ...paragraph(greeting(input.contact)),
      '',
      ...paragraph(`Your registration request for ${institution} has been approved. You can now log in to siar with these credentials:`),
      '',
      ...credentialLines(input),
      '',
      ...paragraph('If you did not ask for a siar account, please let us know by replying to this message.'),
      '',
      ...SIGNATURE,
    ),
  };
}

/**
 * The lines both credentials mails carry: username, password, server and the first-login rule.
 * Username and password (ASCII, at most 32 and 20 characters) keep their lines short.
 */
function credentialLines(input: { username: string; password: string; server?: string }): Array<string | null> {
  const server = input.server === undefined ? '' : oneLine(input.server);
  return [
    `Username: ${oneLine(input.username)}`,
    `Password: ${input.password}`,
    server ? `Server: ${server}` : null,
    '',
    ...paragraph('Your first login will ask you to change this password. Please choose a new password that only you know, and delete this message afterwards.'),
  ];
}

/** Sent when the administrator rejects a registration request. */
export function rejectionMail(input: RejectionMailInput): MailContent {
  const institution = oneLine(input.institution);
  const reason = multiLine(input.reason);
  return {
    subject: `Your siar registration request for ${institution}`,
    text: lines(
      ...paragraph(greeting(input.contact)),
      '',
      ...paragraph(`Thank you for your interest in siar. We are sorry to tell you that the registration request for ${institution} (username ${oneLine(input.username)}) was not approved.`),
      '',
      ...(reason ? ['Reason given by the administrator:', '', ...paragraphs(reason), ''] : []),
      ...paragraph('If you believe this is a mistake, you are welcome to reply to this message or to send a new request.'),
      '',
      ...SIGNATURE,
    ),
  };
}

/** Sent when the administrator resets a member's password. */
export function passwordResetMail(input: PasswordResetMailInput): MailContent {
  const institution = oneLine(input.institution);
  return {
    subject: `Your siar password for ${institution} has been reset`,
    text: lines(
      ...paragraph(greeting(input.contact)),
      '',
      ...paragraph(`The administrator has reset the siar password of the account for ${institution}. You can log in with these credentials:`),
      '',
      ...credentialLines(input),
      '',
      ...paragraph('If you did not expect this, please tell the administrator by replying to this message.'),
      '',
      ...SIGNATURE,
    ),
  };
}

export interface ExpiryMailInput {
  institution: string;
  contact: string;
  username: string;
  /** How many days the request waited. */
  days: number;
}

/** Sent when a registration request was left undecided too long and expired. */
export function registrationExpiredMail(input: ExpiryMailInput): MailContent {
  const institution = oneLine(input.institution);
  const days = Math.max(0, Math.round(input.days));
  return {
    subject: `Your siar registration request for ${institution} has expired`,
    text: lines(
      ...paragraph(greeting(input.contact)),
      '',
      ...paragraph(`The registration request for ${institution} (username ${oneLine(input.username)}) was not decided within ${days} day${days === 1 ? '' : 's'} and has expired. Nothing was created, and the username and e-mail address are free again.`),
      '',
      ...paragraph('If you still want to join siar, please send a new request, or reply to this message to reach the administrator.'),
      '',
      ...SIGNATURE,
    ),
  };
}
