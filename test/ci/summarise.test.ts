/**
 * The summary .ci/run prints (.ci/summarise.mjs): on the TAP tap really writes for small fixture
 * files, and on crafted logs. Skips and todos are listed by name and reason just before the closing
 * "N passed, N failed"; a file that registered no test, a file that did not run, a run that never
 * started and npm test failing each count as a failure. And a test whose capability is missing is
 * skipped, except under CI, where it fails (test/helpers/capability.ts).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { tempDir } from '../helpers/siar.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SUMMARISE = path.join(ROOT, '.ci', 'summarise.mjs');
const TAP = path.join(ROOT, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs');
const FIXTURES = 'test/ci/fixtures';

/** Runs the summariser on `log` as .ci/run does; its printed lines and exit code. */
function summarise(t: Test, log: string, npmStatus = 0, expected: string[] = []): { lines: string[]; code: number | null } {
  const file = path.join(tempDir(t), 'ci.log');
  writeFileSync(file, log);
  const r = spawnSync(process.execPath, [SUMMARISE, file, String(npmStatus), ...expected], { encoding: 'utf8' });
  return { lines: r.stdout.trimEnd().split('\n'), code: r.status };
}

/** This process's environment without what the tap running it set (a nested run is a run of its own), and without CI. */
function freshEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const own = Object.entries(process.env).filter(([k]) => !k.startsWith('TAP') && k !== 'NODE_OPTIONS' && k !== 'CI');
  return { ...Object.fromEntries(own), ...extra };
}

t.test('on a real tap run: skips and todos listed with their reasons; a file with no test and a file that did not run fail', async (t) => {
  const files = [`${FIXTURES}/no-tests.ts`, `${FIXTURES}/skips-and-todos.ts`];
  const run = spawnSync(process.execPath, [TAP, ...files], { cwd: ROOT, env: freshEnv(), encoding: 'utf8', timeout: 240_000 });
  t.equal(run.status, 0, 'tap itself calls this run a success');
  const { lines, code } = summarise(t, run.stdout + run.stderr, run.status ?? 1, [...files, `${FIXTURES}/never-ran.ts`]);
  t.strictSame(lines, [
    `skipped: ${FIXTURES}/skips-and-todos.ts › a test that needs a missing capability — needs a made-up device: it is missing on purpose`,
    `todo: ${FIXTURES}/skips-and-todos.ts › a test still to write — later`,
    `FAILED: ${FIXTURES}/no-tests.ts registered no test (skip: no tests found)`,
    `FAILED: ${FIXTURES}/never-ran.ts did not run`,
    '1 skipped, 1 todo',
    '1 passed, 2 failed',
  ]);
  t.equal(code, 1, 'the summary fails the run');
});

t.test('a test whose capability is missing skips, but fails under CI', async (t) => {
  const run = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, ['--import=tsx', `${FIXTURES}/skips-and-todos.ts`], {
    cwd: ROOT, env: freshEnv(env), encoding: 'utf8', timeout: 120_000,
  });
  const local = run({});
  t.equal(local.status, 0, 'outside CI the file passes');
  t.match(local.stdout, /^ok 2 - a test that needs a missing capability # SKIP needs a made-up device: it is missing on purpose$/m);
  for (const ci of ['true', '1']) {
    const inCi = run({ CI: ci });
    t.equal(inCi.status, 1, `with CI=${ci} the file fails`);
    t.match(inCi.stdout, /^ {4}not ok 1 - needs a made-up device, which CI must provide: it is missing on purpose$/m);
  }
  t.equal(run({ CI: 'false' }).status, 0, 'CI=false is not CI');
});

/** A TAP log as tap writes it for one file with the given subtest lines and closing counts. */
function tapLog(file: string, body: string[], counts: string, fileOk = true): string {
  return [
    'TAP version 14', '1..1', `# Subtest: ${file}`, ...body.map((l) => `    ${l}`), '    1..1',
    `${fileOk ? 'ok' : 'not ok'} 1 - ${file} # time=12ms`, '', `# { ${counts} }`, '# time=20ms',
  ].join('\n');
}

t.test('a clean run: nothing skipped, every test passed, exit 0', async (t) => {
  const log = `added 300 packages\n${tapLog('test/a.test.ts', ['ok 1 - works # time=1ms'], 'total: 3, pass: 3')}`;
  const { lines, code } = summarise(t, log, 0, ['test/a.test.ts']);
  t.strictSame(lines, ['0 skipped, 0 todo', '3 passed, 0 failed']);
  t.equal(code, 0);
});

t.test('a log without tap\'s counts: the tests never ran, one failure', async (t) => {
  const { lines, code } = summarise(t, 'npm ERR! code 1\nsrc/x.ts(1,1): error TS2304\n', 2, ['test/a.test.ts']);
  t.strictSame(lines, [
    'FAILED: the tests never ran: the log has no tap counts (the install or the type check failed?)',
    '0 skipped, 0 todo',
    '0 passed, 1 failed',
  ]);
  t.equal(code, 1);
});

t.test('failed tests are counted from tap\'s counts; todos are not failures', async (t) => {
  const body = ['not ok 1 - breaks # time=1ms', 'ok 2 - later # TODO not written yet'];
  const { lines, code } = summarise(t, tapLog('test/a.test.ts', body, 'total: 6, pass: 4, fail: 1, todo: 1', false), 1);
  t.strictSame(lines, [
    'todo: test/a.test.ts › later — not written yet',
    'failed: test/a.test.ts › breaks',
    '0 skipped, 1 todo',
    '4 passed, 1 failed',
  ]);
  t.equal(code, 1);
});

t.test('npm test failing with no failed test is still a failure', async (t) => {
  const { lines, code } = summarise(t, tapLog('test/a.test.ts', ['ok 1 - works'], 'total: 2, pass: 2'), 1);
  t.strictSame(lines, ['FAILED: npm test exited with status 1', '0 skipped, 0 todo', '2 passed, 1 failed']);
  t.equal(code, 1);
});

t.test('a run in which no test passed fails', async (t) => {
  const { lines } = summarise(t, tapLog('test/a.test.ts', ['ok 1 - x # SKIP not here'], 'total: 1, pass: 0, skip: 1'));
  t.strictSame(lines.slice(-3), ['FAILED: no test passed', '1 skipped, 0 todo', '0 passed, 1 failed']);
});

t.test('results quoted inside a diagnostic block, and escaped "#" in names, are not misread', async (t) => {
  const body = [
    'not ok 1 - a \\# b # time=1ms', '  ---', '  source: |', '    ok 9 - quoted # SKIP not a skip', '    # Subtest: quoted', '  ...',
    '# Subtest: nested', '    ok 1 - deep # SKIP no /dev/full', '    1..1', 'ok 2 - nested # time=1ms',
  ];
  const { lines } = summarise(t, tapLog('test/a.test.ts', body, 'total: 3, pass: 1, fail: 1, skip: 1', false), 1);
  t.strictSame(lines, [
    'skipped: test/a.test.ts › nested › deep — no /dev/full',
    'failed: test/a.test.ts › a \\# b',
    '1 skipped, 0 todo',
    '1 passed, 1 failed',
  ]);
});

t.test('each failed assertion is named under its subtests and file, so the end of the log says what broke', async (t) => {
  const body = [
    '# Subtest: with the worker', '    ok 1 - first', '    not ok 2 - the second burst reused the log', '    1..2',
    'not ok 1 - with the worker # time=9ms', 'ok 2 - the control # time=1ms',
  ];
  const { lines, code } = summarise(t, tapLog('test/c.test.ts', body, 'total: 3, pass: 2, fail: 1', false), 1);
  t.strictSame(lines, [
    'failed: test/c.test.ts › with the worker › the second burst reused the log',
    '0 skipped, 0 todo',
    '2 passed, 1 failed',
  ], 'only the innermost failure, not its subtest and file again');
  t.equal(code, 1);
});

t.test('a run with very many failures names the first ones and says how many more', async (t) => {
  const body = Array.from({ length: 45 }, (_, i) => `not ok ${i + 1} - case ${i + 1}`);
  const { lines } = summarise(t, tapLog('test/m.test.ts', body, 'total: 45, pass: 0, fail: 45', false), 1);
  const failed = lines.filter((l) => l.startsWith('failed: '));
  t.equal(failed.length, 41);
  t.equal(failed[0], 'failed: test/m.test.ts › case 1');
  t.equal(failed[40], 'failed: … and 5 more (search the log for "not ok")');
});
