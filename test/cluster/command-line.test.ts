/**
 * `npm run cluster`'s command line (scripts/cluster.ts): every numeric flag is a whole number within
 * its bounds, or the command stops with a sentence and the usage before it starts anything. It used
 * to take `--nodes abc` as NaN (and start no node, printing a cluster of none), `--nodes 0` and
 * `--nodes -2` likewise, and `--nodes` without a value as the default.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ClusterUsageError, MAX_NODES, parseClusterArgs } from '../../scripts/cluster.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

t.test('the defaults, and good values', async (t) => {
  t.same(parseClusterArgs([]), { dir: undefined, port: 7401, nodes: 3, help: false });
  t.same(parseClusterArgs(['--dir', '/tmp/c', '--port', '7501', '--nodes', '5']), { dir: '/tmp/c', port: 7501, nodes: 5, help: false });
  t.same(parseClusterArgs(['--nodes', String(MAX_NODES), '--port', String(65536 - MAX_NODES)]).nodes, MAX_NODES, 'the last ports fit');
  t.equal(parseClusterArgs(['--help']).help, true);
});

t.test('bad values are refused with a sentence', async (t) => {
  const refused = (argv: string[], message: RegExp, what: string) =>
    t.throws(() => parseClusterArgs(argv), { constructor: ClusterUsageError, message }, what);
  refused(['--nodes', 'abc'], /^--nodes is the number of nodes: a whole number from 1 to 16, not "abc"$/, 'not a number');
  refused(['--nodes', '0'], /from 1 to 16, not "0"/, 'none');
  refused(['--nodes', '-2'], /from 1 to 16, not "-2"/, 'negative');
  refused(['--nodes', '2.5'], /not "2.5"/, 'a fraction');
  refused(['--nodes', '17'], /from 1 to 16, not "17"/, 'more than the maximum');
  refused(['--nodes', '1e1'], /not "1e1"/, 'an exponent');
  refused(['--nodes'], /--nodes needs a value/, 'no value');
  refused(['--port', 'http'], /--port is the first node's port .*: a whole number from 1 to 65533, not "http"/, 'port not a number');
  refused(['--port', '0'], /not "0"/, 'port 0');
  refused(['--port', '65535', '--nodes', '3'], /from 1 to 65533, not "65535"/, 'the nodes would run past the last port');
  refused(['--port', '7401', '--port', '7501'], /--port is given twice/, 'twice');
  refused(['--node', '3'], /unknown option --node/, 'a misspelt option');
  refused(['3'], /unexpected argument "3"/, 'a bare value');
  refused(['--dir', ''], /--dir needs a directory/, 'an empty directory name');
});

t.test('the command stops with the sentence and the usage, starting nothing', async (t) => {
  const r = spawnSync(process.execPath, ['--import=tsx', path.join(ROOT, 'scripts', 'cluster.ts'), '--nodes', 'abc'], { cwd: ROOT, encoding: 'utf8' });
  t.equal(r.status, 2, 'exit status 2');
  t.match(r.stderr, /^siar cluster: --nodes is the number of nodes: a whole number from 1 to 16, not "abc"\.\nusage: npm run cluster/);
  t.equal(r.stdout, '', 'nothing started');
});
