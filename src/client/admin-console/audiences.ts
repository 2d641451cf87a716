/**
 * The pure side of the console's Channels and Groups screens: table cells, the detail panels,
 * the forms and their checks (the same rules the server applies, so a form is refused before
 * anything is sent), and the grant/revoke plan for an edited list of names.
 */
import {
  AUDIENCE_NAME_PATTERN, CHANNEL_ACCESS, PUBLISH_POLICIES, type ChannelRecord, type ChannelRosterEntry, type GroupMemberEntry,
  type GroupRecord,
} from '../../protocol/index.js';
import { choiceInput, pickInput, textInput, type FormInput } from './form.js';
import { shortTime } from './format.js';

/** The server's limit on channel and group descriptions (src/server/commands/channels.ts, groups.ts). */
export const DESCRIPTION_CHARS = 500;

const NAME_RULE = '2-32 characters: a-z first, then a-z, 0-9, ".", "_" or "-".';

/** A channel or group name as typed: trimmed, lower-cased, without a leading # or @. */
export function audienceName(text: string): string {
  return text.trim().toLowerCase().replace(/^[#@]/, '');
}

/** Usernames from a list typed with commas or spaces: lower-cased, each once. */
export function parseNames(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((s) => s.trim().toLowerCase()).filter(Boolean))];
}

export function checkName(text: string, what: 'channel' | 'group'): string | null {
  const name = audienceName(text);
  if (!name) return `Name the ${what}.`;
  return AUDIENCE_NAME_PATTERN.test(name) ? null : `A ${what} name is ${NAME_RULE}`;
}

export function checkDescription(text: string): string | null {
  return text.trim().length > DESCRIPTION_CHARS ? `At most ${DESCRIPTION_CHARS} characters.` : null;
}

/**
 * null when every name is a well-formed username and, when the member list is known, a member.
 * The server refuses the whole command for one unknown name, so the form says which first.
 */
export function checkUsernames(text: string, known: ReadonlySet<string> | null): string | null {
  const names = parseNames(text);
  const malformed = names.filter((n) => !AUDIENCE_NAME_PATTERN.test(n));
  if (malformed.length > 0) return `Not a username: ${malformed.join(', ')}.`;
  if (known) {
    const unknown = names.filter((n) => !known.has(n));
    if (unknown.length > 0) return `No member named ${unknown.join(', ')}.`;
  }
  return null;
}

type Errors = Record<string, string>;

function collect(checks: Array<[string, string | null]>): Errors | null {
  const errors: Errors = {};
  for (const [name, error] of checks) if (error) errors[name] = error;
  return Object.keys(errors).length > 0 ? errors : null;
}

// --- channels

export function channelCells(c: ChannelRecord): string[] {
  return [
    `#${c.name}`, c.access, c.publish, Number.isFinite(c.subscribers) ? String(c.subscribers) : '?',
    c.archived ? (c.archivedAt ? c.archivedAt.slice(0, 10) : 'yes') : '', c.description,
  ];
}

export const CHANNEL_COLUMNS = [
  { title: 'CHANNEL', max: 20 }, { title: 'ACCESS', max: 10 }, { title: 'PUBLISH', max: 11 }, { title: 'SUBS', max: 5 },
  { title: 'ARCHIVED', max: 10 }, { title: 'DESCRIPTION', max: 200 },
];

/** The form for a new channel, or (with `existing`) for describing one and changing its rules. */
export function channelForm(existing?: ChannelRecord): FormInput[] {
  const rules = [
    textInput('description', 'Description', { value: existing?.description ?? '', maxChars: DESCRIPTION_CHARS, hint: 'what the channel is for (optional)' }),
    choiceInput('access', 'Access', CHANNEL_ACCESS, { value: existing?.access, hint: 'open: any member may subscribe; restricted: only named members' }),
    choiceInput('publish', 'Who publishes', PUBLISH_POLICIES, { value: existing?.publish, hint: 'subscribers: anyone subscribed; named: only named publishers' }),
  ];
  if (existing) return rules;
  return [
    textInput('name', 'Name', { hint: `e.g. beasiswa; ${NAME_RULE}`, maxChars: 33 }),
    ...rules,
    pickInput('members', 'Members', { hint: 'Space: choose who may subscribe to a restricted channel' }),
    pickInput('publishers', 'Publishers', { hint: 'Space: choose who may publish under "named"' }),
  ];
}

export function validateChannelForm(values: Record<string, string>, known: ReadonlySet<string> | null): Errors | null {
  return collect([
    ['name', 'name' in values ? checkName(values.name ?? '', 'channel') : null],
    ['description', checkDescription(values.description ?? '')],
    ['members', checkUsernames(values.members ?? '', known)],
    ['publishers', checkUsernames(values.publishers ?? '', known)],
  ]);
}

/** What CHANNEL_UPDATE must change for an edited channel form; empty when nothing changed. */
export function channelChanges(before: ChannelRecord, values: Record<string, string>): { description?: string; access?: ChannelRecord['access']; publish?: ChannelRecord['publish'] } {
  const out: { description?: string; access?: ChannelRecord['access']; publish?: ChannelRecord['publish'] } = {};
  const description = (values.description ?? '').trim();
  if (description !== before.description) out.description = description;
  if (values.access && values.access !== before.access) out.access = values.access as ChannelRecord['access'];
  if (values.publish && values.publish !== before.publish) out.publish = values.publish as ChannelRecord['publish'];
  return out;
}

/** Usernames to grant and to revoke so that the named list becomes `desired`. */
export function listChanges(current: readonly string[], desired: readonly string[]): { add: string[]; remove: string[] } {
  const have = new Set(current);
  const want = new Set(desired);
  return { add: desired.filter((n) => !have.has(n)), remove: current.filter((n) => !want.has(n)) };
}

/** "a, b, c" cut to `width` with a count of the rest: "a, b … (+5 more)". */
export function nameList(names: readonly string[], width: number, empty: string): string {
  if (names.length === 0) return empty;
  const all = names.join(', ');
  if (all.length <= width) return all;
  for (let n = names.length - 1; n > 0; n--) {
    const text = `${names.slice(0, n).join(', ')} … (+${names.length - n} more)`;
    if (text.length <= width) return text;
  }
  return `${names.length} members`;
}

/** The named members, publishers and subscribers of a channel, one kind per line, `width` wide. */
export function rosterLines(c: ChannelRecord, roster: readonly ChannelRosterEntry[], width: number): string[] {
  const names = (pick: (r: ChannelRosterEntry) => boolean) => roster.filter(pick).map((r) => r.username);
  const w = Math.max(20, width - 14);
  return [
    `#${c.name}: ${c.access}, ${c.publish === 'named' ? 'named publishers publish' : 'subscribers publish'}${c.archived ? `, archived ${shortTime(c.archivedAt ?? '')}` : ''}; created ${shortTime(c.createdAt)}`,
    `members      ${nameList(names((r) => r.member), w, c.access === 'open' ? '(open: anyone may subscribe)' : '(nobody named: only the administrator)')}`,
    `publishers   ${nameList(names((r) => r.publisher), w, c.publish === 'subscribers' ? '(any subscriber may publish)' : '(nobody named: only the administrator)')}`,
    `subscribers  ${nameList(names((r) => r.subscribed), w, '(none)')}`,
  ];
}

export function rosterNames(roster: readonly ChannelRosterEntry[], role: 'member' | 'publisher'): string[] {
  return roster.filter((r) => (role === 'member' ? r.member : r.publisher)).map((r) => r.username);
}

// --- groups

export function groupCells(g: GroupRecord): string[] {
  return [`@${g.name}`, Number.isFinite(g.members) ? String(g.members) : '?', shortTime(g.createdAt).slice(0, 16), g.description];
}

export const GROUP_COLUMNS = [{ title: 'GROUP', max: 24 }, { title: 'MEMBERS', max: 7 }, { title: 'CREATED', max: 16 }, { title: 'DESCRIPTION', max: 200 }];

export function groupForm(): FormInput[] {
  return [
    textInput('name', 'Name', { hint: `e.g. ptn-sulawesi; ${NAME_RULE}`, maxChars: 33 }),
    textInput('description', 'Description', { maxChars: DESCRIPTION_CHARS, hint: 'who is in it (optional)' }),
    pickInput('members', 'Institutions', { hint: 'Space: choose the institutions' }),
  ];
}

export function validateGroupForm(values: Record<string, string>, known: ReadonlySet<string> | null): Errors | null {
  return collect([
    ['name', checkName(values.name ?? '', 'group')],
    ['description', checkDescription(values.description ?? '')],
    ['members', checkUsernames(values.members ?? '', known)],
  ]);
}

export function groupMemberLines(g: GroupRecord, members: readonly GroupMemberEntry[], width: number): string[] {
  const w = Math.max(20, width - 14);
  const suspended = members.filter((m) => m.status !== 'active').map((m) => m.username);
  return [
    `@${g.name}: ${members.length} institution(s); created ${shortTime(g.createdAt)}`,
    `institutions ${nameList(members.map((m) => m.username), w, '(none yet: press m to choose)')}`,
    ...(suspended.length > 0 ? [`suspended    ${nameList(suspended, w, '')} (skipped when the group is addressed)`] : []),
  ];
}
