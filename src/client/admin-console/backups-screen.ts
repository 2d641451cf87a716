/**
 * The console's Backups screen: past backups, and taking one (attachments listed or copied) with
 * its progress from BACKUP pushes; the status line follows the backup to its end.
 */
import blessed from 'blessed';
import { wireArgs, type BackupRow, type BackupStatus } from '../replies.js';
import { readableFields, recordOf } from './fields.js';
import { escapeTags, formatBytes, progressBar, shortTime } from './format.js';
import type { ConsoleHost, Screen } from './host.js';
import { Table } from './widgets.js';

export function backupsScreen(host: ConsoleHost, key: string): Screen {
  const box = host.area();
  let job: BackupStatus | null = null;
  const jobBox = blessed.box({
    parent: box, top: 0, left: 0, width: '100%', height: 4, border: { type: 'line' }, label: ' Backup ', tags: true,
    style: { border: { fg: 'cyan' } },
  });
  const table = new Table<BackupRow>(
    box,
    [
      { title: 'NAME', max: 32, min: 12 }, { title: 'CREATED', max: 19, min: 10 }, { title: 'SIZE', max: 10, min: 8 }, { title: 'MESSAGES', max: 8 },
      { title: 'MEMBERS', max: 7 }, { title: 'ATTACHMENTS', max: 11, min: 6 }, { title: 'FILE', max: 100 },
    ],
    (b) => [b.name, shortTime(b.createdAt), formatBytes(b.bytes), optional(b.messages), optional(b.members),
      b.attachments === undefined ? '' : `${b.attachments} ${b.attachmentMode ?? ''}`, b.file],
    { top: 4, height: '100%-4', label: 'Past backups' },
    '(no backups yet — press b)',
  );

  /** The job box, and the status line: "started" gives way to "done" or "failed". */
  const drawJob = (announce: boolean) => {
    const j = job;
    if (!j) {
      jobBox.setContent(' An online backup copies the database while the server keeps serving.\n Press b to take one now.');
      return;
    }
    const name = escapeTags(j.name);
    const percent = j.percent;
    if (j.status === 'running') {
      jobBox.setContent(` ${name}: ${j.phase} ${progressBar(percent / 100, 30)} ${percent}%  (${j.totalPages - j.remainingPages} of ${j.totalPages} pages)`);
    } else if (j.status === 'done') {
      const missing = j.attachmentsMissing ?? 0;
      jobBox.setContent(` {green-fg}${name} done{/green-fg}: ${formatBytes(j.bytes ?? 0)}, ${j.messages} messages, ${j.members} members, integrity ${j.integrity}\n` +
        ` attachments: ${j.attachments} ${j.attachmentMode === 'copy' ? 'copied' : 'listed in the manifest'}${missing ? `, {red-fg}${missing} missing{/red-fg}` : ''}`);
      if (announce) host.say(`{green-fg}backup ${name} done{/green-fg}: ${formatBytes(j.bytes ?? 0)}, integrity ${escapeTags(j.integrity ?? '?')}${missing ? `, {red-fg}${missing} attachment(s) missing{/red-fg}` : ''}`);
    } else {
      jobBox.setContent(` {red-fg}${name} failed: ${escapeTags(j.error ?? '')}{/red-fg}`);
      if (announce) host.say(`{red-fg}backup ${name} failed: ${escapeTags(j.error ?? '')}{/red-fg}`);
    }
  };

  const start = async (attachments: 'list' | 'copy') => {
    try {
      const r = await host.session.admin.backup({ attachments });
      // A short backup can finish (its BACKUP push) before this reply: keep the later news.
      if (!job || job.name !== r.name || job.status === 'running') {
        job = r;
        drawJob(false);
        host.say(`backup ${escapeTags(r.name)} started`);
      }
    } catch (err) {
      host.fail(err);
    }
    host.screen.render();
  };

  const list = table.list;
  list.key('b', () => void start('list'));
  list.key('S-b', () => void start('copy'));
  list.key('enter', () => {
    const b = table.selected;
    if (b) host.details(`Backup ${b.name}`, { ...readableFields(recordOf(wireArgs(b))), restore: `siar restore ${b.file} --data DIR (with the server stopped)` });
  });
  drawJob(false);
  host.on('backup', (j) => {
    job = j;
    drawJob(true);
    if (j.status !== 'running') void host.refresh();
  });

  return {
    key, title: 'Backups', short: 'Backups', box,
    help: 'b backup (files listed)  B backup (files copied)  ↵ details',
    focus: () => list.focus(),
    load: async () => {
      table.setRecords((await host.session.admin.backups()).backups, (a, b) => a.name === b.name);
    },
  };
}

/** A count the server may leave out: blank then. */
function optional(n: number | undefined): string {
  return n === undefined ? '' : String(n);
}
