/**
 * Smaller UI units (issue 18 item 9): every screen of `siar tui` and of `siar admin console` is a
 * module of its own with its keys (tui/<screen>-screen.ts, admin-console/<name>-screen.ts); the
 * controller and the console only route keys and pushes and hold what screens share. What the
 * screens do is checked through the real terminal clients by the tui-* and admin-console-* tests.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

t.test('each screen of siar tui is its own module, with its keys', async (t) => {
  const screens = /export type Screen = ([^;]+);/.exec(read('src/client/tui/model.ts'))?.[1]?.match(/'\w+'/g)?.map((s) => s.slice(1, -1)) ?? [];
  t.same([...screens].sort(), ['compose', 'login', 'main', 'message', 'passwd', 'register', 'waiting', 'welcome']);
  const controller = read('src/client/tui/controller.ts');
  for (const screen of screens) {
    const file = `src/client/tui/${screen}-screen.ts`;
    t.ok(existsSync(path.join(ROOT, file)), `${file} exists`);
    t.match(read(file), new RegExp(`export function ${screen}Key\\(host: TuiHost, k: Key\\)`), `it exports ${screen}Key`);
    t.match(controller, new RegExp(`case '${screen}': return ${screen}Key\\(host, k\\);`), `the controller routes ${screen}'s keys to it`);
  }
  t.notMatch(controller, /private (?!handleKey)\w+Key\(/, 'the controller handles no screen\'s keys itself');
  t.notMatch(controller, /private async (send|submit\w*|download\w*|resume\w*|toggle\w*)\(/, 'nor a screen\'s actions');
});

t.test('each screen of the admin console is its own module, with its keys', async (t) => {
  const app = read('src/client/admin-console/app.ts');
  const added = [...app.matchAll(/this\.add\((\w+)Screen\(this\.host\(\), '(\d)'\)\)/g)].map((m) => [m[1]!, m[2]!]);
  t.same(added.map(([, key]) => key), ['1', '2', '3', '4', '5', '6', '7', '8', '9'], 'nine screens, each from a module');
  for (const [name] of added) {
    const file = `src/client/admin-console/${name}-screen.ts`;
    t.ok(existsSync(path.join(ROOT, file)), `${file} exists`);
    t.match(read(file), new RegExp(`export function ${name}Screen\\(host: ConsoleHost, key: string\\): Screen`), `it exports ${name}Screen`);
  }
  t.notMatch(app, /new Table|\.key\('(?!C-c)/, 'the console builds no table and binds no screen key itself');
  t.notMatch(app, /\.admin\.\w+\(/, 'and calls no administration verb itself');
});
