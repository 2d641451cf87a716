/** The few blessed building blocks the console screens share: a table, a modal text, prompts, forms. */
import blessed from 'blessed';
import { describe } from '../tui/describe.js';
import type { Key } from '../tui/keys.js';
import { normalizeKey } from '../tui/terminal.js';
import { stripControls } from '../tui/editor.js';
import { formLines, formValues, newForm, pressKey, showErrors, textInput, withMessage, withPicked, type FormState, type PickInput } from './form.js';
import { newPickList, pickLines, pressPickKey, type PickItem } from './pick-list.js';

export interface Column {
  title: string;
  /** Longest width; the last column takes what is left. */
  max: number;
  /** Narrowest it gets when the row is too wide for the screen (default: its title, at least 4). */
  min?: number;
}

/** Cuts or pads to exactly `width` terminal cells (one cell per character is assumed). */
export function fit(text: string, width: number): string {
  // Cells hold what others wrote: blessed lets SGR sequences, C1 controls and bidi overrides through.
  const flat = stripControls(text.replace(/[\r\n\t]+/g, ' '));
  if (flat.length > width) return width <= 1 ? flat.slice(0, width) : `${flat.slice(0, width - 1)}…`;
  return flat.padEnd(width);
}

/**
 * A header line and a scrolling list of rows, one selectable row per record. Cells are plain text
 * (no blessed tags), so names from registration forms cannot inject markup.
 */
export class Table<T> {
  readonly header: blessed.Widgets.BoxElement;
  readonly list: blessed.Widgets.ListElement;
  private records: T[] = [];

  constructor(
    parent: blessed.Widgets.Node,
    private readonly columns: Column[],
    private readonly cells: (record: T) => string[],
    position: { top: number | string; height: number | string; label?: string },
    private readonly empty = '(none)',
  ) {
    const box = blessed.box({
      parent, top: position.top, left: 0, width: '100%', height: position.height,
      border: { type: 'line' }, label: position.label ? ` ${position.label} ` : undefined,
      style: { border: { fg: 'cyan' } },
    });
    this.header = blessed.box({ parent: box, top: 0, left: 0, right: 0, height: 1, style: { bold: true, fg: 'yellow' } });
    this.list = blessed.list({
      parent: box, top: 1, left: 0, right: 0, bottom: 0, keys: true, mouse: true, tags: false,
      style: { selected: { bg: 'blue', fg: 'white', bold: true }, item: {} },
      scrollbar: { ch: ' ', style: { bg: 'cyan' } },
    });
    this.list.on('resize', () => this.render());
    this.render();
  }

  get selectedIndex(): number {
    return (this.list as unknown as { selected: number }).selected ?? 0;
  }

  get selected(): T | undefined {
    return this.records[this.selectedIndex];
  }

  get all(): readonly T[] {
    return this.records;
  }

  /** Replaces the rows, keeping the selection on the same record when `same` finds it. */
  setRecords(records: T[], same?: (a: T, b: T) => boolean): void {
    const previous = this.selected;
    const index = this.selectedIndex;
    this.records = records;
    this.render();
    let next = Math.min(index, Math.max(0, records.length - 1));
    if (previous !== undefined && same) {
      const found = records.findIndex((r) => same(previous, r));
      if (found >= 0) next = found;
    }
    this.list.select(next);
  }

  render(): void {
    const width = Math.max(20, (this.list.width as number) - 1);
    const widths = this.widths(width);
    this.header.setContent(this.columns.map((c, i) => fit(c.title, widths[i]!)).join(' '));
    const items = this.records.length === 0 ? [this.empty] : this.records.map((r) => {
      const cells = this.cells(r);
      return this.columns.map((_, i) => fit(cells[i] ?? '', widths[i]!)).join(' ');
    });
    const index = this.selectedIndex;
    this.list.setItems(items as unknown as blessed.Widgets.BlessedElement[]);
    this.list.select(Math.min(index, items.length - 1));
  }

  /**
   * Each column as wide as its content (up to its max). When the row is wider than the screen the
   * last column (the free text: detail, error, file) gives way first, then the widest ones, each
   * down to its minimum, so every column stays in sight; when there is room the last column takes
   * what is left.
   */
  private widths(total: number): number[] {
    const n = this.columns.length;
    const rows = this.records.map((r) => this.cells(r));
    const widths = this.columns.map((c, i) => Math.min(c.max, Math.max(c.title.length, ...rows.map((cells) => (cells[i] ?? '').length))));
    const floors = this.columns.map((c, i) => Math.min(widths[i]!, c.min ?? Math.max(4, c.title.length)));
    const sum = () => widths.reduce((a, b) => a + b, 0) + n - 1;
    widths[n - 1] = Math.max(floors[n - 1]!, widths[n - 1]! - Math.max(0, sum() - total));
    while (sum() > total) {
      let widest = -1;
      widths.forEach((w, i) => { if (w > floors[i]! && (widest < 0 || w > widths[widest]!)) widest = i; });
      if (widest < 0) break;
      widths[widest]!--;
    }
    widths[n - 1] = Math.max(widths[n - 1]!, total - (sum() - widths[n - 1]!));
    return widths;
  }
}

/**
 * A modal box of text, as tall as the text where the screen allows; Enter, Escape or q closes it.
 * Text taller than the box scrolls (↑/↓, PgUp/PgDn), and the box's label says how much is below.
 */
export function showText(screen: blessed.Widgets.Screen, title: string, text: string, onClose: () => void): void {
  const lines = text.split('\n');
  const cols = Number(screen.width) || 80;
  const rows = Number(screen.height) || 24;
  const width = Math.min(cols, Math.max(40, Math.min(cols - 2, Math.max(title.length + 6, ...lines.map((l) => l.length + 4)))));
  const height = Math.min(rows, lines.length + 2);
  const box = blessed.box({
    parent: screen, top: 'center', left: 'center', width, height, label: ` ${title} `,
    border: { type: 'line' }, style: { border: { fg: 'yellow' } }, content: text, tags: false,
    scrollable: true, alwaysScroll: true, keys: true, mouse: true, scrollbar: { ch: ' ', style: { bg: 'yellow' } },
  });
  const sign = () => {
    const below = lines.length - (height - 2) - box.getScroll();
    box.setLabel(below > 0 ? ` ${title} — ↓ ${below} more line(s): ↓/PgDn ` : ` ${title} `);
  };
  box.on('scroll', () => {
    sign();
    screen.render();
  });
  box.key(['escape', 'enter', 'q'], () => {
    box.destroy();
    onClose();
    screen.render();
  });
  sign();
  box.focus();
  screen.render();
}

/**
 * Asks for one line of text; resolves null when cancelled with Escape. The question wraps above
 * the input (form.ts), so a long one is read in full and never overlaps what is typed.
 */
export async function ask(screen: blessed.Widgets.Screen, question: string, initial = ''): Promise<string | null> {
  let answer: string | null = null;
  const form = newForm('Input', [textInput('answer', '', { value: initial })], { intro: [question], keys: 'Enter OK · Esc cancel' });
  const done = await openForm(screen, form, async (values) => {
    answer = values.answer ?? '';
    return null;
  });
  return done ? answer : null;
}

/** Asks a yes/no question; y or Enter is yes, n or Escape is no. */
export function confirm(screen: blessed.Widgets.Screen, question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const box = blessed.box({
      parent: screen, top: 'center', left: 'center', width: '70%', height: 5, label: ' Confirm ',
      border: { type: 'line' }, style: { border: { fg: 'red' } }, content: `${question}\n\n[y] yes   [n] no`, tags: false,
      keys: true,
    });
    const done = (answer: boolean) => {
      box.destroy();
      screen.render();
      resolve(answer);
    };
    box.key(['y', 'enter'], () => done(true));
    box.key(['n', 'escape', 'q'], () => done(false));
    box.focus();
    screen.render();
  });
}

/**
 * What a form's Enter does with the values: null when it was done (the form closes), or errors by
 * input name ('' for a sentence about the whole form, such as the server's refusal); the form
 * stays open with them so the person can correct and try again.
 */
export type FormSubmit = (values: Record<string, string>) => Promise<Record<string, string> | null>;

/** A submit that runs the form's own checks first, then `send`; the server's refusal becomes the form's message. */
export function checkedSubmit(check: (values: Record<string, string>) => Record<string, string> | null, send: (values: Record<string, string>) => Promise<unknown>): FormSubmit {
  return async (values) => {
    const errors = check(values);
    if (errors) return errors;
    try {
      await send(values);
      return null;
    } catch (err) {
      return { '': describe(err) };
    }
  };
}

/** Chooses names for a pick input: resolves the new list, or null when cancelled. */
export type Picker = (input: PickInput) => Promise<string[] | null>;

/**
 * A modal box that takes every key (as the TUI names them) until closed: `lines(width)` gives its
 * content, and the box is as tall as that where the screen allows, redrawn on resize.
 */
function keyedModal<R>(
  screen: blessed.Widgets.Screen,
  title: string,
  lines: (width: number) => string[],
  onKey: (key: Key, close: (result: R) => void) => void,
  resolve: (result: R) => void,
): { draw(): void; focus(): void } {
  let closed = false;
  const box = blessed.box({
    parent: screen, top: 'center', left: 'center', width: 10, height: 5, label: ` ${title} `,
    border: { type: 'line' }, style: { border: { fg: 'green' } }, tags: true, wrap: false,
  });
  const draw = () => {
    if (closed) return;
    const width = Math.max(30, Math.min(Number(screen.width) - 2, 78));
    const content = lines(width - 2);
    box.width = width;
    box.height = Math.min(content.length + 2, Math.max(5, Number(screen.height) - 2));
    box.setContent(content.join('\n'));
    screen.render();
  };
  const close = (result: R) => {
    if (closed) return;
    closed = true;
    screen.off('resize', draw);
    box.destroy();
    screen.render();
    resolve(result);
  };
  box.on('keypress', (ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined) => {
    const k = normalizeKey(ch, key);
    if (k && !closed) onKey(k, close);
  });
  screen.on('resize', draw);
  box.focus();
  draw();
  return { draw, focus: () => { if (!closed) box.focus(); } };
}

/**
 * A modal form (form.ts keeps its state); resolves true when submitted and done, false on Escape.
 * Its pick inputs open `pick` on Space.
 */
export function openForm(screen: blessed.Widgets.Screen, initial: FormState, submit: FormSubmit, pick?: Picker): Promise<boolean> {
  return new Promise((resolve) => {
    let state = initial;
    let picking = false;
    const choose = async (input: PickInput) => {
      picking = true;
      try {
        const names = await pick!(input);
        if (names) state = withPicked(state, input.name, names);
      } finally {
        picking = false;
        modal.focus();
        modal.draw();
      }
    };
    const send = async (close: (done: boolean) => void) => {
      state = withMessage(state, 'sending…', true);
      modal.draw();
      let errors: Record<string, string> | null;
      try {
        errors = await submit(formValues(state));
      } catch (err) {
        errors = { '': err instanceof Error ? err.message : String(err) };
      }
      if (!errors) return close(true);
      state = showErrors(state, errors);
      modal.draw();
    };
    const modal = keyedModal<boolean>(screen, initial.title, (width) => formLines(state, width), (k, close) => {
      if (picking) return;
      const outcome = pressKey(state, k);
      if (outcome.kind === 'cancel') return close(false);
      state = outcome.state;
      if (outcome.kind === 'submit') void send(close);
      else if (outcome.kind === 'pick' && pick) void choose(outcome.input);
      else modal.draw();
    }, resolve);
  });
}

/**
 * A modal pick-list (pick-list.ts keeps its state): `items` with `chosen` ticked; resolves the
 * chosen names when saved with Enter, null on Escape.
 */
export function pickList(screen: blessed.Widgets.Screen, title: string, items: PickItem[], chosen: readonly string[]): Promise<string[] | null> {
  return new Promise((resolve) => {
    let state = newPickList(items, chosen);
    // As tall as the list (a filter line, the chosen line, the rows, the keys line) where the screen allows.
    const rows = () => Math.max(6, Math.min(Number(screen.height) - 4, items.length + 4));
    const modal = keyedModal<string[] | null>(screen, title, (width) => pickLines(state, width, rows()), (k, close) => {
      const outcome = pressPickKey(state, k);
      if (outcome.kind === 'cancel') return close(null);
      if (outcome.kind === 'done') return close(outcome.chosen);
      state = outcome.state;
      modal.draw();
    }, resolve);
  });
}
