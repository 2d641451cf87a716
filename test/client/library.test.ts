/**
 * `siar/client` as a script author uses it (issue 18 item 7): the package is built as it ships
 * (tsconfig.build.json, into a temp folder), installed into another folder as node_modules/siar,
 * and the README's example runs there as written — `node notify.mjs`, importing 'siar/client' by
 * the package name through its `exports` — against a real server, and sends a notice that arrives.
 * A TypeScript file in that folder type-checks against the shipped declarations (`types`), error
 * codes included.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { startServer, tempDir } from '../helpers/siar.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The script after the `library-example` marker in README.md. */
export function libraryExample(markdown: string): string {
  const at = markdown.indexOf('<!-- library-example');
  if (at < 0) throw new Error('README.md has no library-example marker');
  const block = /^```js\n([\s\S]*?)^```$/m.exec(markdown.slice(at));
  if (!block) throw new Error('no js block after the library-example marker');
  return block[1]!;
}

// The build compiles every source file (20-40 s on a loaded machine).
t.setTimeout(300_000);

t.test('the README example sends a notice through siar/client, installed as a package', async (t) => {
  const example = libraryExample(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  t.ok(example.split('\n').filter((l) => l.trim() && !l.trim().startsWith('//')).length <= 11, 'about ten lines');
  t.match(example, /from 'siar\/client'/, 'it imports the package by name');

  // The package as it ships: package.json and the build of src/, nothing else of the checkout.
  const dir = tempDir(t, 'siar-lib-');
  const pkg = path.join(dir, 'siar');
  mkdirSync(pkg);
  copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  await run(process.execPath, [TSC, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(pkg, 'dist')], { cwd: ROOT });
  // Its dependencies, as npm would have installed them.
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));

  // The script author's folder: siar installed, the README's script beside it.
  const app = path.join(dir, 'app');
  mkdirSync(path.join(app, 'node_modules'), { recursive: true });
  symlinkSync(pkg, path.join(app, 'node_modules', 'siar'));
  writeFileSync(path.join(app, 'notify.mjs'), example);

  const s = await startServer(t);
  const unhas = await s.member('unhas');
  await s.member('ugm');
  const ugm = await s.memberClient('ugm');
  const popup = new Promise<{ subject: string; from: string }>((resolve) => ugm.once('popup', resolve));

  const env = { ...process.env, SIAR_SERVER: `127.0.0.1:${s.port}`, SIAR_USER: 'unhas', SIAR_PASSWORD: unhas.password };
  const out = await run(process.execPath, ['notify.mjs'], { cwd: app, env });
  t.match(out.stdout, /^message \d+ reached 1 member\(s\)$/m, 'the script prints the reply');
  const got = await popup;
  t.same([got.from, got.subject], ['unhas', 'Rapat koordinasi'], 'the notice pops up at ugm');
  const inbox = await ugm.inbox();
  t.equal(inbox.messages[0]?.body, 'Senin, 09.00', 'and is in its inbox');

  // The shipped types: typed calls, replies, events and error codes; a wrong code does not compile.
  writeFileSync(path.join(app, 'check.ts'), [
    "import { RemoteError, SiarClient, type ErrorCode, type PopupRecord, type SendReply } from 'siar/client';",
    "export async function notify(c: SiarClient): Promise<number> {",
    "  c.on('popup', (p: PopupRecord) => p.subject.length);",
    "  const expected: ErrorCode = 'UNKNOWN_RECIPIENT';",
    "  try {",
    "    const sent: SendReply = await c.send({ to: ['ugm'], subject: 'x' });",
    "    const approved = await c.admin.approve(1);",
    "    return sent.recipients + approved.mailId;",
    "  } catch (err) {",
    "    if (err instanceof RemoteError && err.code === expected) return 0;",
    "    throw err;",
    "  }",
    "}",
    "// @ts-expect-error a code outside the catalogue",
    "export const wrong: ErrorCode = 'NO_SUCH_CODE';",
    '',
  ].join('\n'));
  writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false,
      types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    },
    files: ['check.ts'],
  }));
  const tsc = await run(process.execPath, [TSC, '-p', app], { cwd: app }).then(() => ({ code: 0, stdout: '' }), (err: { code: number; stdout: string }) => err);
  t.equal(tsc.code, 0, `check.ts type-checks against siar/client's declarations ${tsc.stdout}`);
});
