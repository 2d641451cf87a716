/**
 * What the Channels and Groups screens share: a table of named records and, under it, a panel
 * with the selected record's details (a channel's roster, a group's institutions), fetched for
 * the latest selection only. Actions ask `selected()` for fresh details and end with `after()`.
 */
import blessed from 'blessed';
import { describe } from '../tui/describe.js';
import type { FormState } from './form.js';
import { escapeTags } from './format.js';
import type { ConsoleHost, ConsolePush, Screen } from './host.js';
import { Latest } from './latest.js';
import { Table, checkedSubmit, confirm, openForm, type Column, type Picker } from './widgets.js';

type Errors = Record<string, string> | null;
/** What an action did, for the status line; `select` moves the selection to a new record. */
export type Outcome = string | { message: string; select: string };

export interface NamedListOptions<T extends { name: string }, D> {
  noun: string;
  columns: Column[];
  cells: (record: T) => string[];
  label: string;
  empty: string;
  panelLabel: string;
  panelLines: number;
  placeholder: string;
  fetchList: () => Promise<T[]>;
  fetchDetail: (name: string) => Promise<D>;
  detailLines: (detail: D, width: number) => string[];
}

export class NamedList<T extends { name: string }, D> {
  readonly table: Table<T>;
  readonly panel: blessed.Widgets.BoxElement;
  private shown: D | null = null;
  private selectAfterLoad: string | null = null;
  private readonly detail: Latest;

  constructor(private readonly host: ConsoleHost, readonly box: blessed.Widgets.BoxElement, private readonly o: NamedListOptions<T, D>) {
    this.table = new Table<T>(box, o.columns, o.cells, { top: 0, height: `100%-${o.panelLines + 2}`, label: o.label }, o.empty);
    this.panel = blessed.box({
      parent: box, bottom: 0, left: 0, width: '100%', height: o.panelLines + 2, border: { type: 'line' }, label: ` ${o.panelLabel} `,
      tags: true, wrap: false, style: { border: { fg: 'cyan' } },
    });
    this.detail = new Latest(async (name, isCurrent) => {
      try {
        const d = await o.fetchDetail(name);
        if (!isCurrent()) return;
        this.shown = d;
        this.drawPanel();
      } catch (err) {
        if (isCurrent()) this.drawPanel(` {red-fg}${escapeTags(describe(err))}{/red-fg}`);
      }
    });
    this.list.on('select item', () => this.follow());
    this.panel.on('resize', () => this.drawPanel());
    this.drawPanel();
  }

  get list(): blessed.Widgets.ListElement {
    return this.table.list;
  }

  private follow(): void {
    const name = this.table.selected?.name ?? null;
    if (name === null) this.shown = null;
    if (name !== this.detail.current) void this.detail.ask(name);
    if (name === null) this.drawPanel();
  }

  private drawPanel(text?: string): void {
    const width = Math.max(20, Number(this.panel.width) - 2);
    if (text !== undefined) this.panel.setContent(text);
    else if (!this.shown) this.panel.setContent(` ${escapeTags(this.o.placeholder)}`);
    else this.panel.setContent(this.o.detailLines(this.shown, width).map((l) => ` ${escapeTags(l.slice(0, width - 1))}`).join('\n'));
    this.host.screen.render();
  }

  /** The selected record's details, fetched now; null (with a word on the status line) when none. */
  async selected(): Promise<D | null> {
    const r = this.table.selected;
    if (!r) {
      this.host.say(`no ${this.o.noun} selected — press n to create one`);
      return null;
    }
    try {
      return await this.o.fetchDetail(r.name);
    } catch (err) {
      this.host.fail(err);
      return null;
    }
  }

  /**
   * After an action: reloads the list (selecting `select`) and the panel, then says what happened,
   * so the sentence on the status line means the screen shows the change.
   */
  async after(message: string, select?: string): Promise<void> {
    if (select) this.selectAfterLoad = select;
    await this.host.refresh();
    const name = this.table.selected?.name;
    if (name) await this.detail.ask(name);
    this.host.say(message);
  }

  /**
   * The console screen: `keys` are the list's own (ignored while a dialog is open or an action
   * still runs); a `pushEvent` push (another admin's change, or ours) reloads it.
   */
  screen(o: { key: string; title: string; short?: string; help: string; everyKey?: string; pushEvent: ConsolePush; keys: Record<string, () => Promise<unknown>> }): Screen {
    for (const [key, action] of Object.entries(o.keys)) {
      this.list.key(key, () => {
        if (!this.host.isModal()) void action();
      });
    }
    this.host.on(o.pushEvent, () => void this.host.refresh());
    return {
      key: o.key, title: o.title, short: o.short, help: o.help, everyKey: o.everyKey, box: this.box,
      focus: () => this.list.focus(),
      load: () => this.load(),
    };
  }

  /**
   * A form whose Enter runs `check`, then `send` (a refusal stays in the form); when done, the
   * outcome goes to the status line and the list reloads. Call it inside host.withModal.
   */
  async form(state: FormState, check: (values: Record<string, string>) => Errors, send: (values: Record<string, string>) => Promise<Outcome>, pick?: Picker): Promise<void> {
    let outcome: Outcome | null = null;
    const done = await openForm(this.host.screen, state, checkedSubmit(check, async (v) => {
      outcome = await send(v);
    }), pick);
    const o = outcome as Outcome | null;
    if (!done || o === null) return;
    if (typeof o === 'string') await this.after(escapeTags(o));
    else await this.after(escapeTags(o.message), o.select);
  }

  /** Asks `question` about the selected record, then runs the change; its sentence goes to the status line. Inside host.withModal. */
  async confirmed(question: (detail: D) => string, run: (detail: D) => Promise<string>): Promise<void> {
    const d = await this.selected();
    if (!d || !(await confirm(this.host.screen, question(d)))) return;
    await this.changed(() => run(d));
  }

  /** Runs a change; its sentence (or the server's refusal) goes to the status line once the list shows it. */
  async changed(run: () => Promise<string>): Promise<void> {
    try {
      await this.after(escapeTags(await run()));
    } catch (err) {
      this.host.fail(err);
    }
  }

  /** The screen's load(): the list, the selection kept (or moved to a new record), the panel following it. */
  async load(): Promise<void> {
    const records = await this.o.fetchList();
    const want = this.selectAfterLoad;
    this.selectAfterLoad = null;
    this.table.setRecords(records, (a, b) => a.name === b.name);
    const i = want ? records.findIndex((r) => r.name === want) : -1;
    if (i >= 0) this.list.select(i);
    (this.list.parent as blessed.Widgets.BoxElement).setLabel(` ${this.o.label} (${records.length}) `);
    this.follow();
  }
}
