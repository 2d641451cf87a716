/**
 * The layers of docs/ARCHITECTURE.md, checked on the import graph of src/ (issue 18 item 5):
 *
 *   protocol ← core (domain, ports) ← adapters / server / transfer ← client
 *
 * - src/core imports only src/core and src/protocol (and Node's built-ins);
 * - only src/adapters speaks SQL: no better-sqlite3 or pg import anywhere else;
 * - nothing names a concrete store but the registry: outside src/adapters only the composition
 *   roots (server.ts, `siar restore`, `siar migrate`) import from it, and only src/adapters/index.ts;
 * - no import cycle among src/server, src/transfer and src/core, as folders (one of them importing
 *   another that imports it back) nor as modules.
 *
 * - no import cycle anywhere in src, type-only imports included (as `npx madge --circular
 *   --extensions ts src` counts them): the list of known cycles is empty and stays so;
 * - src/adapters imports no src/server, src/transfer or src/client;
 * - neither SQL store imports the other: src/adapters/sqlite and src/adapters/postgres share what
 *   both need (row shapes, their mapping to records, pure helpers) through src/adapters/sql-common,
 *   which imports neither store nor either driver (besides the registry, only the sqlite→postgres
 *   migration, src/adapters/migrate, imports both);
 * - src/client imports src/protocol, its own modules and the data-socket dialogue both ends share
 *   (src/transfer/wire.ts, disk-space.ts); only the `siar` subcommands that run or operate a server
 *   on this machine (CLIENT_SERVER_SIDE below) reach into src/server or the adapter registry.
 * - delivery's bookkeeping (who gets a popup, the delivered marks, the replay at login, the
 *   catch-up) is src/core/services/delivery.ts's: outside src/adapters no other module reads or
 *   writes the marks, and src/server/delivery.ts (frames and sockets) does not import the store;
 * - the transfers' bookkeeping (who may upload or download what, an upload's commit, a message
 *   closed before its files came) is src/core/services/transfers.ts's: src/transfer (listeners,
 *   bytes) does not import the store, only its message records, and calls no store method.
 * How it is checked: a regular-expression reading of every import (import-graph.ts), and Tarjan's
 * strongly connected components for the cycles, as `madge --circular` would find them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { cycles, importGraph, layerOf, type Edge } from './import-graph.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const edges = importGraph(ROOT);
const show = (e: Edge): string => `${e.from} -> ${e.to}${e.typeOnly ? ' (type)' : ''}`;

/**
 * The `siar` subcommands that start, configure or repair a server on this machine (`siar server`,
 * `siar restore`, `siar migrate`, `siar admin mail`): the only client modules that import the server side. A new entry needs a reason as good.
 */
const CLIENT_SERVER_SIDE = new Set([
  'src/client/cli/admin-mail.ts', 'src/client/cli/migrate.ts', 'src/client/cli/restore.ts', 'src/client/cli/server-cmd.ts', 'src/client/cli/server-config-file.ts',
  'src/client/cli/server-settings-text.ts', 'src/client/cli/server-settings.ts',
]);

/** What the client and the server both speak on a data socket. */
const SHARED_TRANSFER = new Set(['src/transfer/wire.ts', 'src/transfer/disk-space.ts']);

t.test('the graph is read: every layer has modules and imports', async (t) => {
  const layers = new Set(edges.map((e) => layerOf(e.from)));
  for (const l of ['protocol', 'core', 'adapters', 'server', 'transfer', 'client']) t.ok(layers.has(l), `src/${l} is read`);
  t.ok(edges.some((e) => e.from === 'src/server/server.ts' && e.to === 'src/adapters/index.ts'), 'relative imports are resolved to files');
  t.ok(edges.some((e) => e.from.startsWith('src/adapters/sqlite/') && e.to === 'better-sqlite3'), 'packages are named');
  t.ok(edges.some((e) => e.from === 'src/client/cli/restore.ts' && e.to === 'src/adapters/index.ts'), 'dynamic imports count');
});

t.test('src/core imports only src/core and src/protocol', async (t) => {
  const outside = edges.filter((e) => layerOf(e.from) === 'core' && !(layerOf(e.to) === 'core' || layerOf(e.to) === 'protocol' || e.to.startsWith('node:')));
  t.strictSame(outside.map(show), [], 'no server, adapters, transfer, client or package import in the core');
});

t.test('only src/adapters speaks SQL', async (t) => {
  const drivers = new Set(['better-sqlite3', 'pg', 'postgres', 'ioredis']);
  const outside = edges.filter((e) => drivers.has(e.to) && layerOf(e.from) !== 'adapters');
  t.strictSame(outside.map(show), [], 'no database driver imported outside src/adapters');
});

t.test('only the composition roots reach into src/adapters, through its registry', async (t) => {
  const reaching = edges.filter((e) => layerOf(e.to) === 'adapters' && layerOf(e.from) !== 'adapters');
  t.strictSame(
    reaching.map(show).sort(),
    ['src/client/cli/migrate.ts -> src/adapters/index.ts', 'src/client/cli/restore.ts -> src/adapters/index.ts', 'src/server/server.ts -> src/adapters/index.ts'],
    'server.ts (SiarServer.start), `siar restore` and `siar migrate`, each through src/adapters/index.ts',
  );
});

t.test('no import cycle among src/server, src/transfer and src/core', async (t) => {
  const trio = new Set(['server', 'transfer', 'core']);
  const crossing = edges.filter((e) => trio.has(layerOf(e.from)!) && trio.has(layerOf(e.to)!) && layerOf(e.from) !== layerOf(e.to));
  const directions = new Set(crossing.map((e) => `${layerOf(e.from)}>${layerOf(e.to)}`));
  // Server and transfer build on the core; the server wires transfer in; nothing imports back.
  const allowed = new Set(['server>core', 'transfer>core', 'server>transfer']);
  const against = crossing.filter((e) => !allowed.has(`${layerOf(e.from)}>${layerOf(e.to)}`)).map(show);
  t.strictSame(against, [], 'no import against the layers (transfer -> server, core -> anything above it)');
  t.ok(directions.has('server>core') && directions.has('server>transfer'), 'the allowed directions are seen (the check reads what it should)');

});

t.test('no import cycle anywhere in src, type-only imports included (madge --circular)', async (t) => {
  const asMadge = edges.map((e) => ({ ...e, typeOnly: false }));
  t.strictSame(cycles(asMadge, (m) => layerOf(m) !== null), [], 'no strongly connected modules');
});

t.test('src/adapters imports no server, transfer or client module', async (t) => {
  const above = edges.filter((e) => layerOf(e.from) === 'adapters' && ['server', 'transfer', 'client'].includes(layerOf(e.to) ?? ''));
  t.strictSame(above.map(show), [], 'an adapter implements ports; it knows nothing of who uses it');
});

/** The stores' own folders, and what both share (row shapes, their mapping to records, pure helpers). */
const SQLITE = 'src/adapters/sqlite/';
const POSTGRES = 'src/adapters/postgres/';
const SQL_COMMON = 'src/adapters/sql-common/';

t.test('neither store imports the other: what both use is in src/adapters/sql-common', async (t) => {
  const crossing = edges.filter((e) =>
    (e.from.startsWith(POSTGRES) && e.to.startsWith(SQLITE)) || (e.from.startsWith(SQLITE) && e.to.startsWith(POSTGRES)));
  t.strictSame(crossing.map(show), [], 'no import between src/adapters/sqlite and src/adapters/postgres, type-only ones included');
  const common = edges.filter((e) => e.from.startsWith(SQL_COMMON));
  const intoStores = common.filter((e) => e.to.startsWith(SQLITE) || e.to.startsWith(POSTGRES) || ['better-sqlite3', 'pg'].includes(e.to));
  t.strictSame(intoStores.map(show), [], 'the shared folder imports neither store nor either driver');
  for (const store of [SQLITE, POSTGRES]) {
    t.ok(edges.some((e) => e.from.startsWith(store) && e.to.startsWith(SQL_COMMON)), `${store} uses ${SQL_COMMON} (the check reads what it should)`);
  }
});

t.test('src/client speaks the protocol; only the server-side subcommands reach further', async (t) => {
  const crossing = edges.filter((e) => layerOf(e.from) === 'client' && ['server', 'adapters', 'core', 'transfer'].includes(layerOf(e.to) ?? ''));
  const against = crossing.filter((e) => !SHARED_TRANSFER.has(e.to) && !CLIENT_SERVER_SIDE.has(e.from));
  t.strictSame(against.map(show), [], 'no client module but the listed ones imports server, adapters, core or transfer internals');
  t.ok(crossing.some((e) => CLIENT_SERVER_SIDE.has(e.from)), 'the listed crossings are seen (the check reads what it should)');
  for (const f of CLIENT_SERVER_SIDE) if (!crossing.some((e) => e.from === f)) t.fail(`${f} no longer reaches the server: take it off CLIENT_SERVER_SIDE`);
});

/** The store's delivery bookkeeping: the marks, what is owed at login and to a catch-up. */
const DELIVERY_BOOKKEEPING = /\.(markDelivered|markDeliveredMany|markUndelivered|listUndelivered|undeliveredAmong|takeDueReminders)\(/;

t.test('delivery\'s bookkeeping is the core\'s: only src/core/services/delivery.ts reads and writes the marks', async (t) => {
  const modules = [...new Set(edges.map((e) => e.from))];
  const calling = modules.filter((m) => layerOf(m) !== 'adapters' && DELIVERY_BOOKKEEPING.test(readFileSync(path.join(ROOT, m), 'utf8')));
  t.strictSame(calling, ['src/core/services/delivery.ts'], 'no server, transfer or other core module keeps delivered marks');
  const storeUnion = new Set(['src/core/ports/store.ts', 'src/core/ports/store/index.ts']);
  const adapter = edges.filter((e) => e.from === 'src/server/delivery.ts');
  t.strictSame(adapter.filter((e) => storeUnion.has(e.to)).map(show), [], 'src/server/delivery.ts (frames, sockets) does not import the store');
  t.ok(adapter.some((e) => e.to === 'src/core/services/delivery.ts'), 'it hands its connections to the core service (the check reads what it should)');
});

t.test('the transfers\' bookkeeping is the core\'s: src/transfer moves bytes and asks src/core/services/transfers.ts', async (t) => {
  const transfer = edges.filter((e) => layerOf(e.from) === 'transfer');
  const storePorts = transfer.filter((e) => e.to.startsWith('src/core/ports/store') && !(e.typeOnly && e.to === 'src/core/ports/store/messages.ts'));
  t.strictSame(storePorts.map(show), [], 'only the message records (type-only), never the store');
  const modules = [...new Set(transfer.map((e) => e.from))];
  const calling = modules.filter((m) => /\bstore\.\w+\(/.test(readFileSync(path.join(ROOT, m), 'utf8')));
  t.strictSame(calling, [], 'no store call in src/transfer');
  t.ok(transfer.some((e) => e.to === 'src/core/services/transfers.ts'), 'it asks the core service (the check reads what it should)');
});

t.test('the cycle finder finds a cycle and only a cycle', async (t) => {
  const e = (from: string, to: string, typeOnly = false): Edge => ({ from, to, typeOnly });
  t.strictSame(cycles([e('a', 'b'), e('b', 'c'), e('c', 'a'), e('c', 'd')], () => true), [['a', 'b', 'c']]);
  t.strictSame(cycles([e('a', 'b'), e('b', 'a', true)], () => true), [], 'a type-only import makes no run-time cycle');
  t.strictSame(cycles([e('a', 'b'), e('b', 'c')], () => true), []);
});
