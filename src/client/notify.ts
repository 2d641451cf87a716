/**
 * Desktop notifications for popups (`siar listen --notify`, `siar tui --notify`; issue 21 item 6).
 *
 * The desktop's own notifier is run as a child process with an argument vector, never through a
 * shell: on Linux `notify-send` (libnotify, the freedesktop notification service every desktop
 * runs), on macOS `osascript` (`display notification`, text passed as run-handler arguments so
 * it is never AppleScript source). Windows has no command-line notifier of its own (a toast needs
 * PowerShell and the WinRT API, or the BurntToast module): there the flag says so and siar
 * carries on without.
 *
 * Popup text comes from other people: control and bidirectional-override characters are dropped,
 * lengths are bounded, `--` ends notify-send's options before any free text, and the body is
 * escaped for notification servers that read markup in it.
 */
import { spawn } from 'node:child_process';
import { dropControls } from '../protocol/index.js';
import { count } from './counts.js';
import { findOnPath } from './open-file.js';

/** What a notification is made from: a popup (PopupRecord) and, when the server sends them, its alert fields. */
export interface NotifiedPopup {
  id: number;
  from: string;
  institution: string;
  subject: string;
  preview: string;
  attachments: string[];
  via?: string;
  /** normal | high | urgent; missing (older servers) is normal. */
  priority?: string;
  /** The Nth reminder of an unacknowledged popup (absent: the first time). */
  reminder?: number;
}

export type Urgency = 'low' | 'normal' | 'critical';

/** The notifier command and its arguments for one popup. */
export interface NotifierCommand {
  file: string;
  args: string[];
}

export type NotifierKind = 'notify-send' | 'osascript';

/** Longest title and body handed to the notifier (characters); notification bubbles show less. */
export const TITLE_MAX = 120;
export const BODY_MAX = 400;
/** Notifier processes at once; popups beyond are counted and summed up in one notification. */
export const MAX_IN_FLIGHT = 4;
/** A notifier that has not finished by then is killed (a hung D-Bus must not pile up processes). */
const NOTIFIER_TIMEOUT_MS = 10_000;

/**
 * libnotify urgency from a popup's priority. *high* is critical too: a critical notification
 * stays on screen until dismissed, which is what *high* means in siar tui; *urgent* is also
 * marked in the title. Unknown or missing priority is normal.
 */
export function urgencyOf(priority: string | undefined): Urgency {
  return priority === 'urgent' || priority === 'high' ? 'critical' : 'normal';
}

/** One line of someone else's text: no controls, whitespace runs as one space, at most `max` characters. */
export function cleanLine(text: string, max: number): string {
  return clip(dropControls(text.replace(/[\r\n\t]+/g, ' ')).replace(/\s+/g, ' ').trim(), max);
}

/** Several lines of someone else's text: no controls, at most 4 lines and `max` characters. */
export function cleanLines(text: string, max: number): string {
  const lines = dropControls(text, true).split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).filter(Boolean);
  return clip(lines.slice(0, 4).join('\n') + (lines.length > 4 ? '\n…' : ''), max);
}

/** At most `max` code points (an emoji is never cut in half), "…" marking the cut. */
function clip(text: string, max: number): string {
  const points = [...text];
  return points.length <= max ? text : `${points.slice(0, max - 1).join('')}…`;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/**
 * notify-send bodies may be read as markup (body-markup servers): shown, not obeyed. At most
 * `max` characters escaped, an entity never cut in half.
 */
function escapeMarkup(text: string, max: number): string {
  let out = '';
  for (const ch of text) {
    const piece = ENTITIES[ch] ?? ch;
    if (out.length + piece.length > max - 1) return `${out}…`;
    out += piece;
  }
  return out;
}

/**
 * Title and body of the notification for `p`, bounded; `markup`: the body escaped for
 * notify-send (within the bound).
 */
export function notificationText(p: NotifiedPopup, markup = false): { title: string; body: string } {
  const mark = p.priority === 'urgent' ? 'URGENT: ' : p.priority === 'high' ? 'Important: ' : '';
  const again = p.reminder ? `Reminder ${p.reminder}: ` : '';
  const via = p.via ? ` via ${p.via}` : '';
  const title = cleanLine(`${again}${mark}${p.subject || '(no subject)'} — ${p.from} (${p.institution})${via}`, TITLE_MAX);
  const fit = markup ? escapeMarkup : clip;
  const names = p.attachments.slice(0, 3).map((a) => cleanLine(a, 40)).join(', ') + (p.attachments.length > 3 ? ', …' : '');
  const att = p.attachments.length ? fit(`[${p.attachments.length} attachment(s): ${names}]`, 200) : '';
  // The attachments line first (at most 200): the preview gets the rest.
  const preview = fit(cleanLines(p.preview, BODY_MAX), BODY_MAX - att.length - 1);
  return { title, body: [preview, att].filter(Boolean).join('\n') };
}

/** The command that shows `p` with notifier `kind` (found at `file`). notify-send gets the body as markup. */
export function notifierCommand(kind: NotifierKind, file: string, p: NotifiedPopup): NotifierCommand {
  return commandFor(kind, file, notificationText(p, kind === 'notify-send'), urgencyOf(p.priority));
}

function commandFor(kind: NotifierKind, file: string, { title, body }: { title: string; body: string }, urgency: Urgency): NotifierCommand {
  if (kind === 'notify-send') {
    return {
      file,
      args: ['--app-name=siar', `--urgency=${urgency}`, '--category=im.received', '--', title, body],
    };
  }
  // osascript: the text reaches the script as `argv` items, never as source. The first argument
  // after the script is "siar" (ours, not free text), so nothing from others can look like an option.
  const sound = urgency === 'critical' ? ' sound name "Sosumi"' : '';
  return {
    file,
    args: [
      '-e', 'on run argv',
      '-e', `display notification (item 3 of argv) with title (item 1 of argv) subtitle (item 2 of argv)${sound}`,
      '-e', 'end run',
      'siar', title, body,
    ],
  };
}

/** The platform's notifier, if it has one on PATH. */
export function findNotifier(platform = process.platform, envPath = process.env.PATH ?? ''): { kind: NotifierKind; file: string } | null {
  const kind: NotifierKind | null = platform === 'darwin' ? 'osascript' : platform === 'win32' ? null : 'notify-send';
  if (!kind) return null;
  const file = findOnPath(kind, envPath);
  return file ? { kind, file } : null;
}

/** What the user is told once when there is no notifier. */
export function noNotifierText(platform = process.platform): string {
  if (platform === 'win32') return 'Desktop notifications are not available on Windows yet; popups are shown here only.';
  if (platform === 'darwin') return 'No desktop notifier found (osascript is not on PATH); popups are shown here only.';
  return 'No desktop notifier found (notify-send from libnotify, e.g. the libnotify-bin package); popups are shown here only.';
}

/**
 * Raises a desktop notification per popup. `warn` is called at most once when there is no
 * notifier, and at most once when the notifier fails; popups keep being shown either way.
 */
export class DesktopNotifier {
  private readonly notifier: { kind: NotifierKind; file: string } | null;
  private inFlight = 0;
  /** Popups not notified while MAX_IN_FLIGHT notifiers ran; summed up in one notification after. */
  private skipped = 0;
  private failureTold = false;

  constructor(private readonly warn: (text: string) => void, opts: { platform?: NodeJS.Platform; path?: string } = {}) {
    this.notifier = findNotifier(opts.platform, opts.path);
    if (!this.notifier) warn(noNotifierText(opts.platform));
  }

  get available(): boolean {
    return this.notifier !== null;
  }

  notify(p: NotifiedPopup): void {
    if (!this.notifier) return;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.skipped++;
      return;
    }
    this.run(notifierCommand(this.notifier.kind, this.notifier.file, p));
  }

  private run(cmd: NotifierCommand): void {
    this.inFlight++;
    let child;
    try {
      child = spawn(cmd.file, cmd.args, { stdio: 'ignore', shell: false, timeout: NOTIFIER_TIMEOUT_MS, windowsHide: true });
    } catch {
      this.finished(false);
      return;
    }
    // 'exit' may or may not follow 'error': count the end once.
    let ended = false;
    const end = (ok: boolean) => {
      if (ended) return;
      ended = true;
      this.finished(ok);
    };
    child.once('error', () => end(false));
    child.once('exit', (code) => end(code === 0));
  }

  private finished(ok: boolean): void {
    this.inFlight--;
    if (!ok && !this.failureTold) {
      this.failureTold = true;
      this.warn('The desktop notifier failed (is a desktop session running?); popups are still shown here.');
    }
    if (this.inFlight === 0 && this.skipped > 0 && this.notifier) {
      const n = this.skipped;
      this.skipped = 0;
      this.run(commandFor(this.notifier.kind, this.notifier.file, { title: `siar: ${count(n, 'more popup')}`, body: `Open siar to see ${n === 1 ? 'it' : 'all of them'}.` }, 'normal'));
    }
  }
}
