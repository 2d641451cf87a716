import cliProgress from 'cli-progress';
import type { Argv } from 'yargs';
import { CliError, defineCommand, print, printJson, table } from './common.js';

type MigrateOpts = { from: string; to?: string; replace?: boolean; verify?: boolean; json?: boolean };

/**
 * `siar migrate --from DATA_DIR --to postgres://…`: a stopped single-node installation moved into a
 * PostgreSQL store (src/adapters/migrate/sqlite-to-postgres.ts), then verified table by table.
 */
export const migrateCommand = defineCommand<MigrateOpts>({
  command: 'migrate',
  describe: 'move a stopped single-node installation (SQLite and attachment files) into a PostgreSQL store, verified by counts and hashes',
  builder: (y: Argv) => y
    .usage('siar migrate --from DATA_DIR --to postgres://USER@HOST:PORT/DB\n\n'
      + 'Copies every table (ids kept) and every attachment into PostgreSQL, then compares both sides: per table the row\n'
      + 'count and a SHA-256 of its rows, and the SHA-256 of every attachment. Exits 1 on any difference.\n'
      + 'The password: PGPASSWORD, or the whole URL in SIAR_STORE (never on the command line).')
    .option('from', { type: 'string', demandOption: true, describe: 'the data directory of the stopped server (siar.db, attachments/)' })
    .option('to', { type: 'string', describe: 'the PostgreSQL database, without its password (default: $SIAR_STORE)' })
    .option('replace', { type: 'boolean', default: false, describe: 'empty the target\'s siar tables first (everything in them is lost); without it a target holding data is refused' })
    .option('verify', { type: 'boolean', default: false, describe: 'copy nothing: only compare the data directory with the database' })
    .option('json', { type: 'boolean', default: false, describe: 'print the report as one JSON object' }),
  handler: async (opts: MigrateOpts) => {
    const url = targetUrl(opts.to);
    // Loaded on use: only migrate needs the adapters and the server's lock file.
    const { liveServerLock } = await import('../../server/backup.js');
    const { migrateToPostgres, MigrationRefused } = await import('../../adapters/index.js');
    const lock = await liveServerLock(opts.from);
    if (lock) {
      throw new CliError(
        `migrate refused: a siar server (pid ${lock.pid}, ${lock.host}:${lock.port}) is running on ${opts.from}; stop it first, or what it stores during the copy is left behind.`,
      );
    }
    const bars = progress(!opts.json && process.stderr.isTTY === true);
    let report;
    try {
      report = await migrateToPostgres({ dataDir: opts.from, url, replace: opts.replace, verifyOnly: opts.verify, onProgress: bars.update });
    } catch (err) {
      if (err instanceof MigrationRefused) throw new CliError(`migrate refused: ${err.message}`);
      throw new CliError(`migrate failed: ${(err as Error).message}`);
    } finally {
      bars.stop();
    }
    if (opts.json) printJson(report);
    else {
      const rows = report.tables.map((t) => [
        t.table, String(t.sourceRows), String(t.targetRows), t.sourceSha256.slice(0, 16), t.targetSha256.slice(0, 16), t.ok ? 'ok' : 'DIFFERENT',
      ]);
      const c = report.content;
      rows.push(['attachment content', String(c.contents), String(c.verified), `${c.bytes} bytes`, '', c.failed === 0 ? 'ok' : 'DIFFERENT']);
      const lines = [
        `${report.copied ? 'migrated' : 'compared'} ${report.from} → ${report.to}`,
        table(rows, ['table', 'SQLite rows', 'PostgreSQL rows', 'SQLite sha256', 'PostgreSQL sha256', '']).trimEnd(),
      ];
      for (const p of c.problems) lines.push(`attachment ${p}`);
      if (c.failed > c.problems.length) lines.push(`… and ${c.failed - c.problems.length} more attachment(s) that differ (--json lists the first ${c.problems.length})`);
      for (const n of report.notes) lines.push(`note: ${n}`);
      if (report.ok) lines.push(`every table and attachment matches; start the nodes with --store ${report.to.replace(':***@', '@')} (password in PGPASSWORD or SIAR_STORE)`);
      print(lines.join('\n') + '\n');
    }
    if (!report.ok) {
      const differing = report.tables.filter((t) => !t.ok).map((t) => t.table);
      if (report.content.failed > 0) differing.push('attachment content');
      throw new CliError(`the PostgreSQL copy differs from the data directory in: ${differing.join(', ')}.`);
    }
  },
});

/** --to, else SIAR_STORE; a password given on the command line is refused (every local user sees argv). */
function targetUrl(to: string | undefined): string {
  const url = to ?? process.env.SIAR_STORE;
  if (!url) throw new CliError('migrate needs the PostgreSQL database: --to postgres://USER@HOST:PORT/DB (or SIAR_STORE).');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`${to !== undefined ? '--to' : 'SIAR_STORE'} is not a URL; give postgres://USER@HOST:PORT/DB.`);
  }
  if (!/^postgres(ql)?:$/.test(parsed.protocol)) throw new CliError(`${to !== undefined ? '--to' : 'SIAR_STORE'} must be a postgres:// URL, not ${parsed.protocol}//….`);
  if (to !== undefined && parsed.password) {
    throw new CliError('--to carries a password, which every user of this machine can read in the process list; give it through PGPASSWORD (or the whole URL in SIAR_STORE) and leave it out of --to.');
  }
  return url;
}

interface Bars { update: (p: { phase: string; table: string; done: number; total: number }) => void; stop: () => void }

/** One bar, on stderr when it is a terminal: the phase and table, rows done of the table's rows. */
function progress(enabled: boolean): Bars {
  if (!enabled) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar({
    stream: process.stderr, format: '{what} |{bar}| {value} of {total}', hideCursor: true, barCompleteChar: '█', barIncompleteChar: '░', fps: 10,
  });
  let current = '';
  let started = false;
  return {
    update: (p) => {
      const what = `${p.phase} ${p.table}`.padEnd(30);
      if (!started) {
        bar.start(Math.max(1, p.total), p.done, { what });
        started = true;
      } else if (what !== current) {
        bar.setTotal(Math.max(1, p.total));
      }
      current = what;
      bar.update(p.done, { what });
    },
    stop: () => { if (started) bar.stop(); },
  };
}
