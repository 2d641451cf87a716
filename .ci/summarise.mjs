#!/usr/bin/env node
// Summarises a CI run from its log (the output of `npm ci && npm test`; tap writes TAP when piped):
//   node .ci/summarise.mjs LOG NPM_STATUS [TEST_FILE...]
// Prints each skipped and todo test with its reason, each failed test (the innermost failure: the
// assertion, under its subtests and file; at most MAX_FAILED_SHOWN), each problem, then "N skipped, N todo" and,
// last, "N passed, N failed". Exits 0 only when nothing failed. Counted as failures besides failed
// tests: a test file that registered no test, an expected TEST_FILE that does not appear in the
// log, a log without tap's closing counts (the tests never ran), and npm test exiting non-zero.
// No dependencies: it must run even when `npm ci` did not.
import { readFileSync } from 'node:fs';

/** Failed tests named in the summary; a run that fails thousands lists the first ones and a count. */
const MAX_FAILED_SHOWN = 40;

/** The TAP of one run, read into counts, skips, todos and per-file results. */
function readTap(text) {
  const files = []; // top-level results: one per test file
  const skips = [];
  const todos = [];
  const failures = []; // every failed result, outermost last (a subtest closes after its assertions)
  let counts = null;
  const path = []; // names of the open subtests, by depth
  let yamlEnd = null; // inside a YAML diagnostic block, until this line
  for (const line of text.split(/\r?\n/)) {
    if (yamlEnd !== null) {
      if (line === yamlEnd) yamlEnd = null;
      continue;
    }
    const yaml = /^( *)---$/.exec(line);
    if (yaml) {
      yamlEnd = `${yaml[1]}...`;
      continue;
    }
    const summary = /^# \{ (.*) \}$/.exec(line);
    if (summary) {
      counts = Object.fromEntries([...summary[1].matchAll(/(\w+): (\d+)/g)].map(([, k, v]) => [k, Number(v)]));
      continue;
    }
    const subtest = /^( *)# Subtest: (.*)$/.exec(line);
    if (subtest) {
      const depth = subtest[1].length / 4;
      path.length = depth;
      path[depth] = subtest[2];
      continue;
    }
    const result = /^( *)(not ok|ok)\b(?: \d+)?(?: -)?(?: (.*))?$/.exec(line);
    if (!result || result[1].length % 4 !== 0) continue;
    const depth = result[1].length / 4;
    // TAP escapes "#" in descriptions, so the first unescaped " # " starts the directive.
    const [padded, directive = ''] = ` ${result[3] ?? ''}`.split(/(?<!\\) # (.*)/s);
    const description = padded.slice(1);
    const kind = /^(SKIP|TODO)\b\s*(.*)$/i.exec(directive);
    const entry = {
      name: [...path.slice(0, depth), description].join(' › '),
      ok: result[2] === 'ok',
      directive: kind ? kind[1].toUpperCase() : null,
      reason: kind ? kind[2] : '',
    };
    path.length = depth;
    if (!entry.ok && entry.directive === null) failures.push(entry);
    if (depth === 0) files.push({ ...entry, file: description });
    else if (entry.directive === 'SKIP') skips.push(entry);
    else if (entry.directive === 'TODO') todos.push(entry);
  }
  // A failed subtest or file is reported by the failures inside it; only the innermost are named.
  const failed = failures.filter((f) => !failures.some((g) => g.name.startsWith(`${f.name} › `)));
  return { counts, files, skips, todos, failed };
}

/** What CI reports: the lines to print (the last is "N passed, N failed") and the number failed. */
function summarise(text, npmStatus, expectedFiles = []) {
  const { counts, files, skips, todos, failed } = readTap(text);
  const problems = [];
  if (counts === null) problems.push('the tests never ran: the log has no tap counts (the install or the type check failed?)');
  for (const f of files) {
    if (f.directive) problems.push(`${f.file} registered no test (${f.directive.toLowerCase()}: ${f.reason || 'no reason given'})`);
  }
  const ran = new Set(files.map((f) => f.file));
  for (const f of expectedFiles) if (counts !== null && !ran.has(f)) problems.push(`${f} did not run`);
  const pass = counts?.pass ?? 0;
  const failedTests = counts?.fail ?? 0;
  if (counts !== null && pass === 0) problems.push('no test passed');
  if (npmStatus !== 0 && failedTests === 0 && problems.length === 0) problems.push(`npm test exited with status ${npmStatus}`);
  const lines = [
    ...skips.map((s) => `skipped: ${s.name}${s.reason ? ` — ${s.reason}` : ''}`),
    ...todos.map((s) => `todo: ${s.name}${s.reason ? ` — ${s.reason}` : ''}`),
    ...failed.slice(0, MAX_FAILED_SHOWN).map((f) => `failed: ${f.name}`),
    ...(failed.length > MAX_FAILED_SHOWN ? [`failed: … and ${failed.length - MAX_FAILED_SHOWN} more (search the log for "not ok")`] : []),
    ...problems.map((p) => `FAILED: ${p}`),
    `${skips.length} skipped, ${todos.length} todo`,
    `${pass} passed, ${failedTests + problems.length} failed`,
  ];
  return { lines, failed: failedTests + problems.length };
}

const [log, status, ...expected] = process.argv.slice(2);
if (!log || status === undefined || !/^\d+$/.test(status)) {
  process.stderr.write('usage: node .ci/summarise.mjs LOG NPM_STATUS [TEST_FILE...]\n');
  process.exit(2);
}
const { lines, failed } = summarise(readFileSync(log, 'utf8'), Number(status), expected);
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(failed === 0 ? 0 : 1);
