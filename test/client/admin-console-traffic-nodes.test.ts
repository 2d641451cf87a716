/**
 * The console's Traffic screen on several nodes (issue 19): a line per node and the cluster's total,
 * near the top (in sight on a 24-row terminal), each within the 78 columns inside the box; on a
 * single node nothing is added. The Stats come from a STATS reply's fields as the server sends them.
 */
import t from 'tap';
import { trafficLines } from '../../src/client/admin-console/traffic-screen.js';
import { argsToStats } from '../../src/client/replies.js';
import { Args } from '../../src/protocol/index.js';

function statsReply(fields: Array<[string, string]>) {
  return argsToStats(new Args([['startedAt', '2026-12-07T12:00:00.000Z'], ['messages', '3'], ['popups', '7'], ...fields]), []);
}

t.test('several nodes: a line each, the answering one marked, and the total, in sight and within the box', async (t) => {
  const s = statsReply([
    ['nodeId', 'siar-2.kampus.ac.id:7400'],
    ['node', '120,480,1048576,9437184,40,siar-1.kampus.ac.id:7400'],
    ['node', '3,7,2048,4096,2,siar-2.kampus.ac.id:7400'],
    ['node', '0,0,0,0,0,a-node-with-a-name,longer than sixteen'],
    ['total', '123,487,1050624,9441280,42'],
  ]);
  t.equal(s.nodes.length, 3);
  t.equal(s.nodes[2]!.node, 'a-node-with-a-name,longer than sixteen', 'a name with a comma survives');
  const lines = trafficLines(s, 60);
  const start = lines.findIndex((l) => l.includes('every node\'s since it started'));
  t.ok(start > 0 && start < 12, `the nodes come right after the totals (line ${start})`);
  t.match(lines[start + 2], /^ {2}siar-1\.kampus\.…\s+120\s+480\s+1\.0 MiB\s+9\.0 MiB\s+40$/, 'the first node, its name cut to fit');
  t.match(lines[start + 3], /^ \*siar-2\.kampus\.…\s+3\s+7\s/, 'the answering node marked');
  t.match(lines[start + 5], /^ {2}all nodes\s+123\s+487\s/, 'the total');
  t.ok(start + 5 < 20, 'the total is in sight in the 19 rows a 24-row terminal gives the screen');
  t.ok(lines.slice(start, start + 6).every((l) => [...l].length <= 78), 'each of them fits inside the box at 80 columns');
});

t.test('one node: the screen is as before', async (t) => {
  const one = statsReply([['nodeId', 'solo'], ['node', '3,7,0,0,1,solo'], ['total', '3,7,0,0,1']]);
  const plain = statsReply([]);
  t.strictSame(trafficLines(one, 60), trafficLines(plain, 60));
});
