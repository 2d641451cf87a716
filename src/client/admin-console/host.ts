/**
 * What a console screen is, and what the console offers a screen module (*-screen.ts): the
 * blessed screen, the admin session's typed calls and pushes, the status line, modal dialogs, and
 * a way to reload itself.
 */
import type blessed from 'blessed';
import type { SessionEvents, SiarSession } from '../session.js';

/** The server's pushes a screen may follow. */
export type ConsolePush = 'registration' | 'decided' | 'mail' | 'backup' | 'channel' | 'group' | 'loginAlert';

export interface Screen {
  key: string;
  title: string;
  /** The title where the tab bar is short of room (80 columns); default the title. */
  short?: string;
  /** The screen's keys for the footer, two spaces apart, the ones that may be left out for room last. */
  help: string;
  /** Every key, for the ? box, two spaces apart (default: help). */
  everyKey?: string;
  box: blessed.Widgets.BoxElement;
  focus(): void;
  load(): Promise<void>;
  /** Reload every few seconds while shown. */
  live?: boolean;
  badge?(): string;
}

export interface ConsoleHost {
  readonly screen: blessed.Widgets.Screen;
  /** The admin session: typed calls (session.admin…) throw RemoteError with the server's sentence on refusal. */
  readonly session: SiarSession;
  /** Runs `handler` on each push of that kind, then redraws. */
  on<K extends ConsolePush>(event: K, handler: (...args: SessionEvents[K]) => void): void;
  /** A full-size box for the screen's content, between the header and the status line. */
  area(): blessed.Widgets.BoxElement;
  /** The status line; `text` may hold blessed tags, so escape anything that came from outside. */
  say(text: string): void;
  fail(err: unknown): void;
  /** Reloads the screen this host belongs to (skipped when a load is running or offline). */
  refresh(): Promise<void>;
  /** Runs a dialog with the console's global keys held off. */
  withModal<T>(fn: () => Promise<T>): Promise<T>;
  /** A dialog is open or an action is still running: a screen's own keys wait. */
  isModal(): boolean;
  details(title: string, fields: Record<string, string>): void;
}
