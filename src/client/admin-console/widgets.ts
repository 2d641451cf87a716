/** The few blessed building blocks the console screens share: a table, a modal text, prompts, forms. */
import blessed from 'blessed';
import { describe } from '../tui/controller.js';
import { normalizeKey } from '../tui/terminal.js';
import { formLines, formValues, pressKey, showErrors, withMessage, type FormState } from './form.js';

export interface Column {
  title: string;
  /** Longest width; the last column takes what is left. */
  max: number;
}

/** Cuts or pads to exactly `width` terminal cells (one cell per character is assumed). */
export function fit(text: string, width: number): string {
  const flat = text.replace(/[\r\n\t]+/g, ' ');
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

  private widths(total: number): number[] {
    const n = this.columns.length;
    const widths = this.columns.map((c, i) => {
      const content = Math.max(c.title.length, ...this.records.map((r) => (this.cells(r)[i] ?? '').length));
      return Math.min(c.max, content);
    });
    const used = widths.slice(0, -1).reduce((a, b) => a + b + 1, 0);
    widths[n - 1] = Math.max(4, total - used);
    return widths;
  }
}

/** A modal box of text; Enter, Escape or q closes it. */
export function showText(screen: blessed.Widgets.Screen, title: string, text: string, onClose: () => void): void {
  const box = blessed.box({
    parent: screen, top: 'center', left: 'center', width: '80%', height: '70%', label: ` ${title} `,
    border: { type: 'line' }, style: { border: { fg: 'yellow' } }, content: text, tags: false,
    scrollable: true, alwaysScroll: true, keys: true, mouse: true, scrollbar: { ch: ' ', style: { bg: 'yellow' } },
  });
  box.key(['escape', 'enter', 'q'], () => {
    box.destroy();
    onClose();
    screen.render();
  });
  box.focus();
  screen.render();
}

/** Asks for one line of text; resolves null when cancelled with Escape. */
export function ask(screen: blessed.Widgets.Screen, question: string, initial = ''): Promise<string | null> {
  return new Promise((resolve) => {
    const box = blessed.box({
      parent: screen, top: 'center', left: 'center', width: '70%', height: 5, label: ' Input ',
      border: { type: 'line' }, style: { border: { fg: 'green' } }, content: question, tags: false,
    });
    const input = blessed.textbox({
      parent: box, top: 2, left: 1, right: 1, height: 1, inputOnFocus: false, style: { bg: 'black', fg: 'white' }, value: initial,
    });
    screen.render();
    input.readInput((err, value) => {
      box.destroy();
      screen.render();
      resolve(err || value === undefined || value === null ? null : String(value));
    });
  });
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

/** A modal form (form.ts keeps its state); resolves true when submitted and done, false on Escape. */
export function openForm(screen: blessed.Widgets.Screen, initial: FormState, submit: FormSubmit): Promise<boolean> {
  return new Promise((resolve) => {
    let state = initial;
    let closed = false;
    const box = blessed.box({
      parent: screen, top: 'center', left: 'center', width: 10, height: 5, label: ` ${initial.title} `,
      border: { type: 'line' }, style: { border: { fg: 'green' } }, tags: true, wrap: false,
    });
    const draw = () => {
      if (closed) return;
      const width = Math.max(30, Math.min(Number(screen.width) - 2, 78));
      const lines = formLines(state, width - 2);
      box.width = width;
      box.height = Math.min(lines.length + 2, Math.max(5, Number(screen.height) - 2));
      box.setContent(lines.join('\n'));
      screen.render();
    };
    const close = (done: boolean) => {
      if (closed) return;
      closed = true;
      screen.off('resize', draw);
      box.destroy();
      screen.render();
      resolve(done);
    };
    const send = async () => {
      state = withMessage(state, 'sending…', true);
      draw();
      let errors: Record<string, string> | null;
      try {
        errors = await submit(formValues(state));
      } catch (err) {
        errors = { '': err instanceof Error ? err.message : String(err) };
      }
      if (!errors) return close(true);
      state = showErrors(state, errors);
      draw();
    };
    box.on('keypress', (ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined) => {
      const k = normalizeKey(ch, key);
      if (!k || closed) return;
      const outcome = pressKey(state, k);
      if (outcome.kind === 'cancel') return close(false);
      state = outcome.state;
      if (outcome.kind === 'submit') void send();
      else draw();
    });
    screen.on('resize', draw);
    box.focus();
    draw();
  });
}
