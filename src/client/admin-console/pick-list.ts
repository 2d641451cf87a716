/**
 * A pick-list as pure state: the members to choose from, which are chosen, a filter typed to
 * narrow the list, the cursor. The console draws it in a modal box (widgets.ts pickList) for a
 * channel's named members and publishers and a group's institutions, so nobody types usernames.
 */
import { editKeyOf, type Key } from '../tui/keys.js';
import { editLine, field, stripControls, type LineField } from '../tui/editor.js';
import { escapeTags } from './format.js';

export interface PickItem {
  name: string;
  /** Shown beside the name (the institution); the filter looks in it too. */
  detail: string;
}

export interface PickState {
  items: PickItem[];
  chosen: ReadonlySet<string>;
  cursor: number;
  filter: LineField;
}

export type PickOutcome = { kind: 'edit'; state: PickState } | { kind: 'done'; chosen: string[] } | { kind: 'cancel' };

const PAGE = 10;

export function newPickList(items: PickItem[], chosen: readonly string[]): PickState {
  return { items, chosen: new Set(chosen), cursor: 0, filter: field('filter', 'Filter', { maxChars: 64 }) };
}

/** The items the filter lets through, in list order. */
export function visibleItems(state: PickState): PickItem[] {
  const f = state.filter.value.trim().toLowerCase();
  if (!f) return state.items;
  return state.items.filter((i) => i.name.toLowerCase().includes(f) || i.detail.toLowerCase().includes(f));
}

/** The chosen names in list order (names no longer listed, kept from before, last). */
export function chosenNames(state: PickState): string[] {
  const listed = state.items.map((i) => i.name).filter((n) => state.chosen.has(n));
  return [...listed, ...[...state.chosen].filter((n) => !state.items.some((i) => i.name === n))];
}

/** One key: Space chooses or unchooses, ↑/↓/PgUp/PgDn/Home/End move, Enter saves, Esc cancels, the rest edits the filter. */
export function pressPickKey(state: PickState, key: Key): PickOutcome {
  const shown = visibleItems(state);
  const move = (to: number): PickOutcome => ({ kind: 'edit', state: { ...state, cursor: Math.max(0, Math.min(to, shown.length - 1)) } });
  switch (key.name) {
    case 'escape': return { kind: 'cancel' };
    case 'enter': return { kind: 'done', chosen: chosenNames(state) };
    case 'up': return move(state.cursor - 1);
    case 'down': return move(state.cursor + 1);
    case 'pageup': return move(state.cursor - PAGE);
    case 'pagedown': return move(state.cursor + PAGE);
    case 'home': return move(0);
    case 'end': return move(shown.length - 1);
    case 'space': {
      const item = shown[state.cursor];
      if (!item) return { kind: 'edit', state };
      const chosen = new Set(state.chosen);
      if (chosen.has(item.name)) chosen.delete(item.name);
      else chosen.add(item.name);
      return { kind: 'edit', state: { ...state, chosen } };
    }
    default: {
      const edit = editKeyOf(key, false);
      if (!edit) return { kind: 'edit', state };
      return { kind: 'edit', state: { ...state, filter: editLine(state.filter, edit), cursor: 0 } };
    }
  }
}

/** The list drawn for a box `width` cells wide and `rows` lines high (blessed tags). */
export function pickLines(state: PickState, width: number, rows: number): string[] {
  const shown = visibleItems(state);
  const nameWidth = Math.min(20, Math.max(8, ...state.items.map((i) => i.name.length)));
  const cut = (text: string, w: number) => (text.length > w ? `${text.slice(0, Math.max(0, w - 1))}…` : text.padEnd(w));
  const chosen = chosenNames(state);
  const lines = [
    ` Filter: {underline}${escapeTags(cut(stripControls(state.filter.value), Math.max(8, width - 12)))}{/underline}`,
    ` {cyan-fg}${escapeTags(cut(`${chosen.length} chosen${chosen.length ? `: ${chosen.join(', ')}` : ''}`, width - 2))}{/cyan-fg}`,
  ];
  const listRows = Math.max(1, rows - lines.length - 1);
  const start = Math.max(0, Math.min(state.cursor - Math.floor(listRows / 2), shown.length - listRows));
  const window = shown.slice(start, start + listRows);
  window.forEach((item, i) => {
    const selected = start + i === state.cursor;
    const text = cut(`${state.chosen.has(item.name) ? '[x]' : '[ ]'} ${cut(item.name, nameWidth)} ${item.detail}`, width - 3);
    lines.push(selected ? `{inverse}▶ ${escapeTags(text)}{/inverse}` : `  ${escapeTags(text)}`);
  });
  if (shown.length === 0) lines.push(` {cyan-fg}${state.items.length ? 'No member matches the filter.' : 'No members yet.'}{/cyan-fg}`);
  while (lines.length < rows - 1) lines.push('');
  const more = shown.length > listRows ? ` (${start + 1}-${start + window.length} of ${shown.length})` : '';
  lines.push(` Space choose · type to filter · Enter save · Esc cancel${more}`.slice(0, width));
  return lines;
}
