/**
 * The pure logic behind the admin console's Channels and Groups screens, without a terminal:
 * the form state (form.ts), the checks and plans (audiences.ts), the header and help lines fitted
 * to 80 columns (format.ts), and the latest-selection loader (latest.ts).
 */
import t from 'tap';
import type { ChannelRecord, ChannelRosterEntry } from '../../src/protocol/index.js';
import {
  channelCells, channelChanges, channelForm, checkUsernames, groupMemberLines, listChanges, nameList, parseNames, rosterLines,
  validateChannelForm, validateGroupForm,
} from '../../src/client/admin-console/audiences.js';
import { choiceInput, formLines, formValues, newForm, pressKey, showErrors, textInput, withPicked, type FormState } from '../../src/client/admin-console/form.js';
import { fieldLines, headerLines, helpLine, wrap } from '../../src/client/admin-console/format.js';
import type { Screen } from '../../src/client/admin-console/host.js';
import { keysHelp } from '../../src/client/admin-console/keys-help.js';
import { chosenNames, newPickList, pickLines, pressPickKey, visibleItems, type PickOutcome } from '../../src/client/admin-console/pick-list.js';
import { REGISTRATION_HELP, REGISTRATION_KEYS } from '../../src/client/admin-console/registrations-screen.js';
import { Latest } from '../../src/client/admin-console/latest.js';
import type { Key } from '../../src/client/tui/controller.js';

const channel: ChannelRecord = {
  name: 'dekanat', description: 'Rapat dekan', access: 'restricted', publish: 'named', archived: false, archivedAt: null,
  createdAt: '2026-11-26T02:04:41.790Z', subscribers: 1, subscribed: false, canSubscribe: false, canPublish: true,
};
const roster: ChannelRosterEntry[] = [
  { username: 'unhas', institution: 'Universitas Hasanuddin', member: true, publisher: true, subscribed: true },
  { username: 'unsrat', institution: 'Universitas Sam Ratulangi', member: true, publisher: false, subscribed: false },
];

/** Feeds keys (a string is typed character by character) and returns the last state and outcome. */
function keys(state: FormState, ...input: Array<Key | string>): { state: FormState; outcome: string } {
  let s = state;
  let outcome = 'edit';
  for (const k of input) {
    for (const key of typeof k === 'string' ? Array.from(k).map((ch): Key => ({ name: ch === ' ' ? 'space' : ch, ch })) : [k]) {
      const r = pressKey(s, key);
      outcome = r.kind;
      if (r.kind !== 'cancel') s = r.state;
    }
  }
  return { state: s, outcome };
}

t.test('a form: typing, moving between inputs, cycling choices, submit and cancel', async (t) => {
  const form = newForm('New channel', channelForm());
  t.same(form.inputs.map((i) => i.name), ['name', 'description', 'access', 'publish', 'members', 'publishers']);
  let r = keys(form, 'beasiswa', { name: 'tab' }, 'Beasiswa S2', { name: 'tab' }, { name: 'right' }, { name: 'down' }, ' ');
  t.match(formValues(r.state), { name: 'beasiswa', description: 'Beasiswa S2', access: 'restricted', publish: 'named' });
  t.equal(r.state.focus, 3, 'focus is on the publish choice');
  r = keys(r.state, { name: 'left' });
  t.equal(formValues(r.state).publish, 'subscribers', '← cycles back');
  r = keys(r.state, { name: 'tab', shift: true }, { name: 'tab', shift: true }, { name: 'backspace' }, { name: 'backspace' }, 'S3');
  t.equal(formValues(r.state).description, 'Beasiswa S3', 'backspace and typing edit the focused text');
  r = keys(r.state, { name: 'up' }, { name: 'up' });
  t.equal(r.state.focus, 5, '↑ wraps around from the first input to the last');
  t.equal(keys(r.state, { name: 'enter' }).outcome, 'submit');
  t.equal(keys(r.state, { name: 'escape' }).outcome, 'cancel');
  t.equal(formValues(keys(r.state, 'ghost').state).publishers, '', 'names are not typed into a member list');
  t.equal(keys(r.state, ' ').outcome, 'pick', 'Space on a member list asks for its pick-list');
  const picked = withPicked(r.state, 'publishers', ['unhas', 'ugm']);
  t.equal(formValues(picked).publishers, 'unhas, ugm', 'the chosen names become its value');
  t.match(formLines(picked, 76).join('\n').replace(/\{[^}]*\}/g, ''), />Publishers\s+unhas, ugm/);
  r = keys(r.state, { name: 'tab' }, 'a\u001b[31mb');
  t.equal(formValues(r.state).name, 'beasiswaa[31mb', 'control characters never enter a value');
});

t.test('a pick-list: filter by name or institution, Space chooses, Enter saves in list order, Esc cancels', async (t) => {
  const items = [{ name: 'ugm', detail: 'Universitas Gadjah Mada' }, { name: 'unhas', detail: 'Universitas Hasanuddin' }, { name: 'itb', detail: 'Institut Teknologi Bandung' }];
  let s = newPickList(items, ['unhas', 'gone']);
  const press = (...ks: Key[]) => {
    let last: PickOutcome = { kind: 'edit', state: s };
    for (const k of ks) {
      last = pressPickKey(s, k);
      if (last.kind === 'edit') s = last.state;
    }
    return last;
  };
  press({ name: 'space', ch: ' ' });
  t.same(chosenNames(s), ['ugm', 'unhas', 'gone'], 'Space chose the first row; a name no longer listed is kept, last');
  press({ name: 't', ch: 't' }, { name: 'e', ch: 'e' }, { name: 'k', ch: 'k' });
  t.same(visibleItems(s).map((i) => i.name), ['itb'], 'the filter looks in the institution too');
  press({ name: 'space', ch: ' ' }, { name: 'backspace' }, { name: 'backspace' }, { name: 'backspace' }, { name: 'down' }, { name: 'space', ch: ' ' });
  t.same(press({ name: 'enter' }), { kind: 'done', chosen: ['ugm', 'itb', 'gone'] }, 'unhas unchosen; Enter saves');
  t.same(press({ name: 'escape' }), { kind: 'cancel' });
  const lines = pickLines(s, 60, 8).map((l) => l.replace(/\{[^}]*\}/g, ''));
  t.equal(lines.length, 8);
  t.match(lines.join('\n'), /\[x\] ugm[\s\S]*▶ \[ \] unhas[\s\S]*\[x\] itb/);
  t.match(lines.at(-1), /Space choose · type to filter · Enter save/);
  for (const l of lines) t.ok(l.length <= 60, `"${l}" fits`);
});

t.test('the ? box lists every screen by its key and fits 80×24', async (t) => {
  const titles = ['Registrations', 'Members', 'Online', 'Traffic', 'Mail', 'Audit', 'Backups', 'Channels', 'Groups'];
  const help = [REGISTRATION_HELP, '/ search  ↵ details  s suspend  u reactivate  p reset password', 'refreshes every 2 s',
    'a alert to all members  (refreshed every 2 s)', 't retry  T retry all  f unsent/failed/all  ↵ details',
    'k kind  m member  s since  u until  c clear  ↵ details', 'b backup (files listed)  B backup (files copied)  ↵ details',
    'n new  e edit  r access  x archive  m members  p publishers  ↵ roster', 'n new  e describe  d delete  m institutions  ↵ details'];
  const screens = titles.map((title, i) => ({ key: String(i + 1), title, help: help[i]!, everyKey: i === 0 ? REGISTRATION_KEYS : undefined })) as unknown as Screen[];
  const fields = keysHelp(screens, 80 - 6);
  t.same(Object.keys(fields).slice(0, 9), titles.map((title, i) => `${i + 1} ${title}`));
  // As AdminConsole.details draws it at 80 columns: the lines, a blank one and "(Enter or Esc closes)", in a border.
  const lines = fieldLines(fields, 80 - 6);
  t.ok(lines.every((l) => l.length <= 74), 'no line wider than the box');
  for (const [i, h] of help.entries()) {
    const foot = helpLine(h, 9, 80).replace(/\{[^}]*\}/g, '');
    t.ok(foot.includes(h.split(/ {2,}/).slice(0, 4).join('  ')) && foot.endsWith('? help  q quit'), `the footer of screen ${i + 1} at 80 columns: ${foot}`);
  }
  t.match(lines.join('\n'), /^1 Registrations {2}Space mark \(the cursor stays\) · \* mark all/m, 'the keys break between entries');
  t.ok(lines.length + 2 + 2 <= 24, `${lines.length} lines fit 24 rows with the border and the closing line`);
});

t.test('a form shows errors, moves the focus to the first refused input, and clears an error when it is edited', async (t) => {
  const form = newForm('x', [textInput('name', 'Name'), textInput('members', 'Members'), choiceInput('access', 'Access', ['open', 'restricted'])]);
  let s = showErrors({ ...form, focus: 2 }, { members: 'No member named ghost.', '': 'There is already a channel named x. (DUPLICATE_NAME)' });
  t.equal(s.focus, 1);
  t.equal(s.message, 'There is already a channel named x. (DUPLICATE_NAME)');
  const lines = formLines(s, 60).join('\n');
  t.match(lines, /\{red-fg\}No member named ghost\.\{\/red-fg\}/);
  t.match(lines, /DUPLICATE_NAME/);
  s = keys(s, { name: 'tab' }).state;
  t.equal(s.inputs[1]!.error, 'No member named ghost.', 'moving does not clear the error');
  s = keys(s, { name: 'tab', shift: true }, 'x').state;
  t.equal(s.inputs[1]!.error, null, 'editing the input clears it');
  const busy = { ...s, busy: true };
  t.equal(keys(busy, 'y').state, busy, 'a busy form ignores keys');
  t.equal(keys(busy, { name: 'escape' }).outcome, 'cancel', 'but Escape still closes it');
});

t.test('form lines fit their width and escape tags in values', async (t) => {
  let s = newForm('x', [textInput('description', 'Description'), choiceInput('access', 'Access', ['open', 'restricted'])]);
  s = keys(s, '{bold}' + 'y'.repeat(200)).state;
  const lines = formLines(s, 76);
  t.notMatch(lines[0]!, /\{bold\}y/, 'a typed tag is escaped');
  t.match(lines[0]!, /\{open\}|y{10}/);
  const plain = (l: string) => l.replace(/\{[^}]*\}/g, '');
  for (const l of lines) t.ok(plain(l).length <= 78, `"${plain(l)}" fits`);
  t.match(plain(lines[0]!), /y{20}/, 'a long value scrolls to show the cursor');
  t.same(wrap('one two three four five six', 10), ['one two', 'three four', 'five six']);
  t.same(wrap('a'.repeat(25), 10), ['a'.repeat(10), 'a'.repeat(10), 'a'.repeat(5)]);
  t.same(fieldLines({ name: 'dekanat', 'named members': 'unhas (Universitas Hasanuddin)\nugm (UGM)', empty: '' }, 40), [
    'name           dekanat',
    'named members  unhas (Universitas',
    '               Hasanuddin)',
    '               ugm (UGM)',
    'empty',
  ], 'details: long values wrap and lists stay in their column');
});

t.test('the channel and group forms check what the server checks, before sending', async (t) => {
  const known = new Set(['unhas', 'unsrat', 'ugm']);
  t.equal(validateChannelForm({ name: 'beasiswa', description: '', access: 'open', publish: 'subscribers', members: '', publishers: '' }, known), null);
  t.equal(validateChannelForm({ name: '#Beasiswa', members: 'UNHAS, ugm' }, known), null, 'a leading # and capitals are accepted, like the server');
  t.match(validateChannelForm({ name: 'x', members: 'unhas ghost', publishers: 'Bad!' }, known), {
    name: /2-32 characters/, members: 'No member named ghost.', publishers: 'Not a username: bad!.',
  });
  t.match(validateChannelForm({ name: '', description: 'd'.repeat(501) }, null), { name: 'Name the channel.', description: 'At most 500 characters.' });
  t.equal(validateChannelForm({ description: 'edit form has no name' }, null), null, 'the edit form has no name to check');
  t.equal(checkUsernames('ghost', null), null, 'without the member list, only the form of a name is checked');
  t.match(validateGroupForm({ name: '1abc', members: 'unhas,,unsrat' }, known), { name: /group name is 2-32/ });
  t.equal(validateGroupForm({ name: 'ptn-sulawesi', members: 'unhas,,unsrat' }, known), null);
});

t.test('list edits become grants and revocations; rule edits send only what changed', async (t) => {
  t.same(parseNames(' unhas, UGM  unhas,,unsrat '), ['unhas', 'ugm', 'unsrat']);
  t.same(listChanges(['unhas', 'unsrat'], ['unhas', 'ugm']), { add: ['ugm'], remove: ['unsrat'] });
  t.same(listChanges(['a'], ['a']), { add: [], remove: [] });
  t.same(listChanges(['a', 'b'], []), { add: [], remove: ['a', 'b'] });
  t.same(channelChanges(channel, { description: ' Rapat dekan ', access: 'restricted', publish: 'named' }), {}, 'nothing changed');
  t.same(channelChanges(channel, { description: 'Baru', access: 'open', publish: 'named' }), { description: 'Baru', access: 'open' });
  const edit = channelForm(channel);
  t.same(edit.map((i) => [i.name, i.value]), [['description', 'Rapat dekan'], ['access', 'restricted'], ['publish', 'named']], 'the edit form starts from the channel');
});

t.test('table cells and detail panels', async (t) => {
  t.same(channelCells(channel), ['#dekanat', 'restricted', 'named', '1', '', 'Rapat dekan']);
  t.same(channelCells({ ...channel, archived: true, archivedAt: '2026-11-27T01:00:00.000Z', subscribers: Number.NaN }).slice(3, 5), ['?', '2026-11-27']);
  const lines = rosterLines(channel, roster, 78);
  t.match(lines[0], /^#dekanat: restricted, named publishers publish; created 2026-11-26 02:04:41/);
  t.match(lines[1], /^members {6}unhas, unsrat$/);
  t.match(lines[2], /^publishers {3}unhas$/);
  t.match(lines[3], /^subscribers {2}unhas$/);
  const open = rosterLines({ ...channel, access: 'open', publish: 'subscribers' }, [], 78);
  t.match(open[1], /anyone may subscribe/);
  t.match(open[2], /any subscriber may publish/);
  const many = Array.from({ length: 30 }, (_, i) => `member${i}`);
  const cut = nameList(many, 40, '');
  t.ok(cut.length <= 40, cut);
  t.match(cut, /… \(\+\d+ more\)$/);
  t.equal(nameList([], 40, '(none)'), '(none)');
  const g = groupMemberLines({ name: 'ptn', description: '', members: 2, createdAt: '2026-11-26T02:04:41.790Z', isMember: false },
    [{ username: 'unhas', institution: 'U', status: 'active' }, { username: 'unsrat', institution: 'S', status: 'suspended' }], 78);
  t.match(g.join('\n'), /institutions unhas, unsrat[\s\S]*suspended {4}unsrat/);
});

t.test('the header names every screen, abbreviated at 80 columns; the help line always shows ? help and q quit', async (t) => {
  const titles = ['Registrations', 'Members', 'Online', 'Traffic', 'Mail', 'Audit', 'Backups', 'Channels', 'Groups'];
  const short: Record<string, string> = { Registrations: 'Regs', Channels: 'Chans' };
  const tabs = titles.map((title, i) => ({ key: String(i + 1), title, short: short[title] ?? title, badge: i === 0 ? ' (2)' : '' }));
  const plain = (s: string) => s.replace(/\{[^}]*\}/g, '');
  const lines = (o: Partial<Parameters<typeof headerLines>[0]>) =>
    headerLines({ user: 'admin', address: '127.0.0.1:7400', status: 'online', tabs, current: 7, width: 80, ...o }).map(plain);

  const wide = lines({ width: 200 });
  t.equal(wide.length, 1, 'one line where everything fits');
  t.match(wide[0], /online │ 1 Registrations \(2\) 2 Members 3 Online 4 Traffic 5 Mail 6 Audit 7 Backups {2}8 Channels {2}9 Groups$/, 'every title');

  for (const current of [0, 7]) {
    const narrow = lines({ current, tabs: tabs.map((t) => ({ ...t, badge: '' })) });
    t.equal(narrow.length, 2, 'two lines at 80 columns');
    t.ok(narrow.every((l) => l.length <= 80), narrow.join('\n'));
    t.match(narrow[1], /1 Regs\s+2 Members\s+3 Online\s+4 Traffic\s+5 Mail\s+6 Audit\s+7 Backups\s+8 Chans\s+9 Groups/, 'every screen named');
  }
  const counted = lines({ current: 1 });
  t.match(counted[0], /127\.0\.0\.1:7400 online │ Regs \(2\)$/, 'a count the tab bar has no room for goes up beside the connection');
  t.match(counted[1], /1 Regs\s+2 Members\s+3 Online 4 Traffic 5 Mail 6 Audit 7 Backups 8 Chans 9 Groups$/);
  const tiny = lines({ width: 60, address: 'a-very-long-host-name.example.ac.id:7400', status: 'reconnecting', current: 0 });
  t.ok(tiny.every((l) => l.length <= 60), tiny.join('\n'));
  t.notMatch(tiny[0], /example/, 'the address goes when even that does not fit');
  t.match(tiny[1], /1 Reg\s+2 Mem 3 Onl 4 Tra/, 'narrower still, three letters each');
  t.equal(headerLines({ user: '{bold}', address: 'x', status: 'online', tabs, current: 0, width: 200 })[0]!.includes('{open}bold{close}'), true, 'tags are escaped');

  t.match(plain(helpLine('n new', 9, 80)), /n new {3}1-9\/Tab screens {2}g refresh {2}\? help {2}q quit/);
  const long = 'n new  e edit  r restrict/open  x archive  m members  p publishers  Enter roster';
  const cut = plain(helpLine(long, 9, 80));
  t.ok(cut.length <= 80, cut);
  t.match(cut, /^ n new {2}e edit .* {3}\? help {2}q quit$/, 'the screen\'s first keys, then ? help and q quit');
  for (let width = 30; width <= 120; width++) {
    const l = plain(helpLine(REGISTRATION_HELP, 9, width));
    if (l.length > width || !/\? help {2}q quit$/.test(l)) t.fail(`at ${width}: ${l}`);
  }
});

t.test('the detail loader fetches the latest selection only and never draws a stale answer', async (t) => {
  const started: string[] = [];
  const drawn: string[] = [];
  const gates = new Map<string, () => void>();
  const latest = new Latest(async (key, isCurrent) => {
    started.push(key);
    await new Promise<void>((resolve) => gates.set(key, resolve));
    if (isCurrent()) drawn.push(key);
  });
  const first = latest.ask('a');
  void latest.ask('b');
  void latest.ask('c');
  t.equal(latest.current, 'c');
  gates.get('a')!();
  while (!gates.has('c')) await new Promise((r) => setImmediate(r));
  gates.get('c')!();
  await first;
  t.same(started, ['a', 'c'], 'b was never fetched: c replaced it while a was loading');
  t.same(drawn, ['c'], 'a finished after c was asked, so it was not drawn');

  const again = latest.ask('c');
  while (started.length < 3) await new Promise((r) => setImmediate(r));
  gates.get('c')!();
  await again;
  t.same(started, ['a', 'c', 'c'], 'asking for the shown key again reloads it');
  t.same(drawn, ['c', 'c']);
  await latest.ask(null);
  t.equal(started.length, 3, 'null fetches nothing');
});
