/**
 * A keyboard-driven form for the console's modal dialogs, as pure state: text inputs (edited with
 * the TUI's line editor), choices (cycled with ←/→ or space) and member lists (Space opens a
 * pick-list, pick-list.ts). The blessed layer (widgets.ts) only feeds keys in and draws
 * `formLines`; everything here runs without a terminal.
 */
import { editKeyOf, type Key } from '../tui/keys.js';
import { editLine, field, stripControls, type LineField } from '../tui/editor.js';
import { escapeTags, wrap } from './format.js';

export interface TextInput extends LineField {
  kind: 'text';
}

export interface ChoiceInput {
  kind: 'choice';
  name: string;
  label: string;
  options: readonly string[];
  value: string;
  hint?: string;
  error?: string | null;
}

/** Usernames chosen from a pick-list (value: "a, b"), never typed. */
export interface PickInput {
  kind: 'pick';
  name: string;
  label: string;
  value: string;
  hint?: string;
  error?: string | null;
}

export type FormInput = TextInput | ChoiceInput | PickInput;

export interface FormState {
  title: string;
  /** Sentences above the inputs (a question), wrapped to the box. */
  intro?: string[];
  inputs: FormInput[];
  focus: number;
  /** A sentence about the whole form: the server's refusal, or "sending…". */
  message: string | null;
  busy: boolean;
  /** The keys line at the bottom, when not the usual one. */
  keys?: string;
}

/** `pick`: the focused pick input asks for its pick-list (Space); the form waits for the choice. */
export type FormOutcome = { kind: 'edit'; state: FormState } | { kind: 'submit'; state: FormState } | { kind: 'pick'; state: FormState; input: PickInput } | { kind: 'cancel' };

export function textInput(name: string, label: string, opts: { value?: string; hint?: string; maxChars?: number } = {}): TextInput {
  return { kind: 'text', ...field(name, label, { value: opts.value ?? '', hint: opts.hint, maxChars: opts.maxChars }) };
}

export function choiceInput(name: string, label: string, options: readonly string[], opts: { value?: string; hint?: string } = {}): ChoiceInput {
  const value = opts.value !== undefined && options.includes(opts.value) ? opts.value : options[0] ?? '';
  return { kind: 'choice', name, label, options, value, hint: opts.hint };
}

export function pickInput(name: string, label: string, opts: { value?: readonly string[]; hint?: string } = {}): PickInput {
  return { kind: 'pick', name, label, value: (opts.value ?? []).join(', '), hint: opts.hint };
}

/** The names a pick input holds. */
export function pickedNames(input: PickInput): string[] {
  return input.value.split(',').map((n) => n.trim()).filter(Boolean);
}

/** The form after a pick-list closed with `names` chosen for the input `name`. */
export function withPicked(state: FormState, name: string, names: readonly string[]): FormState {
  return { ...state, inputs: state.inputs.map((i) => (i.name === name && i.kind === 'pick' ? { ...i, value: names.join(', '), error: null } : i)) };
}

export function newForm(title: string, inputs: FormInput[], opts: { intro?: string[]; keys?: string } = {}): FormState {
  return { title, inputs, focus: 0, message: null, busy: false, ...opts };
}

export function formValues(state: FormState): Record<string, string> {
  return Object.fromEntries(state.inputs.map((i) => [i.name, i.value]));
}

/** Marks the inputs named in `errors` and moves the focus to the first of them. */
export function showErrors(state: FormState, errors: Record<string, string>): FormState {
  const inputs = state.inputs.map((i) => ({ ...i, error: errors[i.name] ?? null }));
  const first = inputs.findIndex((i) => i.error);
  return { ...state, inputs, focus: first >= 0 ? first : state.focus, busy: false, message: errors[''] ?? null };
}

export function withMessage(state: FormState, message: string | null, busy = false): FormState {
  return { ...state, message, busy };
}

function move(state: FormState, step: number): FormState {
  const n = state.inputs.length;
  return n === 0 ? state : { ...state, focus: (state.focus + step + n) % n };
}

function replaceFocused(state: FormState, input: FormInput): FormState {
  const inputs = state.inputs.slice();
  inputs[state.focus] = input;
  return { ...state, inputs };
}

function cycle(input: ChoiceInput, step: number): ChoiceInput {
  const n = input.options.length;
  if (n === 0) return input;
  const at = Math.max(0, input.options.indexOf(input.value));
  return { ...input, value: input.options[(at + step + n) % n]!, error: null };
}

/** One key press: Enter submits, Escape cancels, Tab/↑/↓ move between inputs, the rest edits. */
export function pressKey(state: FormState, key: Key): FormOutcome {
  if (key.name === 'escape') return { kind: 'cancel' };
  if (state.busy) return { kind: 'edit', state };
  if (key.name === 'enter') return { kind: 'submit', state };
  if (key.name === 'tab') return { kind: 'edit', state: move(state, key.shift ? -1 : 1) };
  if (key.name === 'down') return { kind: 'edit', state: move(state, 1) };
  if (key.name === 'up') return { kind: 'edit', state: move(state, -1) };
  const input = state.inputs[state.focus];
  if (!input) return { kind: 'edit', state };
  if (input.kind === 'pick') {
    if (key.name === 'space' || key.ch === ' ' || key.name === 'right') return { kind: 'pick', state, input };
    return { kind: 'edit', state };
  }
  if (input.kind === 'choice') {
    if (key.name === 'left') return { kind: 'edit', state: replaceFocused(state, cycle(input, -1)) };
    if (key.name === 'right' || key.name === 'space' || key.ch === ' ') return { kind: 'edit', state: replaceFocused(state, cycle(input, 1)) };
    return { kind: 'edit', state };
  }
  const edit = editKeyOf(key, false);
  if (!edit) return { kind: 'edit', state };
  const edited = editLine(input, edit);
  return { kind: 'edit', state: replaceFocused(state, { ...edited, kind: 'text', error: edited.value === input.value ? input.error : null }) };
}

/** The visible slice of a text input `width` cells wide, with the cursor shown inverse when focused. */
function textCells(input: TextInput, width: number, focused: boolean): string {
  const chars = Array.from(stripControls(input.value));
  const cursor = Math.min(input.cursor, chars.length);
  const start = Math.max(0, cursor - width + 1);
  const visible = chars.slice(start, start + width);
  if (!focused) return escapeTags(visible.join('').padEnd(width, '_'));
  const at = cursor - start;
  const before = visible.slice(0, at).join('');
  const under = visible[at] ?? ' ';
  const after = visible.slice(at + 1).join('');
  return `${escapeTags(before)}{inverse}${escapeTags(under)}{/inverse}${escapeTags(after)}${'_'.repeat(Math.max(0, width - visible.length - (at >= visible.length ? 1 : 0)))}`;
}

function choiceCells(input: ChoiceInput, focused: boolean): string {
  return input.options.map((o) => {
    if (o !== input.value) return ` ${escapeTags(o)} `;
    return focused ? `{inverse}<${escapeTags(o)}>{/inverse}` : `<${escapeTags(o)}>`;
  }).join(' ');
}

/**
 * The form drawn for a box `width` cells wide (blessed tags): one line per input, a line under
 * it for its error (always) or hint (focused input only), then the form's message and the keys.
 */
export function formLines(state: FormState, width: number): string[] {
  const labelWidth = Math.max(...state.inputs.map((i) => i.label.length), 0);
  const valueWidth = Math.max(8, width - labelWidth - 4);
  const lines: string[] = [];
  for (const sentence of state.intro ?? []) for (const part of wrap(sentence, width - 1)) lines.push(` ${escapeTags(part)}`);
  if (state.intro?.length) lines.push('');
  state.inputs.forEach((input, i) => {
    const focused = i === state.focus && !state.busy;
    const label = input.label.padEnd(labelWidth);
    const value = input.kind === 'text' ? textCells(input, valueWidth, focused)
      : input.kind === 'pick' ? pickCells(input, valueWidth, focused) : choiceCells(input, focused);
    lines.push(`${focused ? '{bold}>' : ' '}${escapeTags(label)}${focused ? '{/bold}' : ''}  ${value}`);
    const indent = ' '.repeat(labelWidth + 3);
    if (input.error) lines.push(`${indent}{red-fg}${escapeTags(cut(input.error, valueWidth))}{/red-fg}`);
    else if (focused && input.hint) lines.push(`${indent}{cyan-fg}${escapeTags(cut(input.hint, valueWidth))}{/cyan-fg}`);
  });
  lines.push('');
  if (state.message) {
    const color = state.busy ? 'yellow' : 'red';
    for (const part of wrap(state.message, width - 1)) lines.push(` {${color}-fg}${escapeTags(part)}{/${color}-fg}`);
  }
  lines.push(state.busy ? ' {yellow-fg}sending…{/yellow-fg}' : ` ${escapeTags(state.keys ?? defaultKeys(state))}`);
  return lines;
}

function defaultKeys(state: FormState): string {
  const kinds = new Set(state.inputs.map((i) => i.kind));
  const change = kinds.has('choice') && kinds.has('pick') ? 'space change/choose' : kinds.has('choice') ? '←/→ space change choice' : kinds.has('pick') ? 'space choose members' : '';
  return ['Enter save', 'Tab/↑/↓ move', change, 'Esc cancel'].filter(Boolean).join(' · ');
}

/** A pick input: the chosen names, cut to the width with how many there are. */
function pickCells(input: PickInput, width: number, focused: boolean): string {
  const names = pickedNames(input);
  const text = names.length === 0 ? '(none)' : names.join(', ');
  const shown = text.length > width ? `${text.slice(0, Math.max(0, width - 12))}… (${names.length})` : text;
  return focused ? `{inverse}${escapeTags(shown)}{/inverse}` : escapeTags(shown);
}

function cut(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
}
