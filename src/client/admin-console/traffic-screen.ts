/**
 * The console's Traffic screen: totals and this minute (on several nodes, every node's counts and
 * the cluster's), a bar chart of messages per minute,
 * sparklines of the rest, how late the event loop runs, and transfers with progress bars;
 * refreshed every 2 s. `a` sends an alert to all members (alert-form.ts).
 */
import blessed from 'blessed';
import type { Stats, TrafficMinute } from '../replies.js';
import { count } from '../counts.js';
import { sendAlert } from './alert-form.js';
import { barChart, formatBytes, nodeTrafficLines, progressBar, shortTime, sparkline } from './format.js';
import type { ConsoleHost, Screen } from './host.js';

export function trafficScreen(host: ConsoleHost, key: string): Screen {
  const box = host.area();
  const traffic = blessed.box({
    parent: box, top: 0, left: 0, width: '100%', height: '100%', border: { type: 'line' }, label: ' Traffic ',
    tags: false, scrollable: true, keys: true, style: { border: { fg: 'cyan' } },
  });
  traffic.key('a', () => void host.withModal(() => sendAlert(host)));
  return {
    key, title: 'Traffic', box, live: true,
    help: 'a alert to all members  (refreshed every 2 s)',
    focus: () => traffic.focus(),
    load: async () => {
      const width = Math.max(10, (traffic.width as number) - 16);
      const stats = await host.session.admin.stats({ minutes: Math.min(60, width) });
      traffic.setContent(trafficLines(stats, width).join('\n'));
    },
  };
}

/** The screen's text, `width` minutes of history at most. */
export function trafficLines(s: Stats, width: number): string[] {
  const minutes = s.minutes.slice(-width);
  const series = (k: Exclude<keyof TrafficMinute, 'at' | 'partial'>) => minutes.map((m) => m[k]);
  const running = minutes[minutes.length - 1];
  // On several nodes: a line per node and the total, paid for with the bar chart's height (24 rows).
  const nodes = nodeTrafficLines(s).map((l) => ` ${l}`);
  const chartHeight = Math.max(2, 6 - nodes.length);
  const lines = [
    ` since ${shortTime(s.startedAt)}          this minute`,
    ` messages      ${String(s.messages).padStart(12)}   ${running?.messages ?? 0}`,
    ` urgent        ${String(s.urgent).padStart(12)}   ${running?.urgent ?? 0}   open acks ${s.openAcks} on ${count(s.openAckMessages, 'message')}`,
    ` popups        ${String(s.popups).padStart(12)}   ${running?.popups ?? 0}`,
    ` bytes in      ${formatBytes(s.bytesIn).padStart(12)}   ${formatBytes(running?.bytesIn ?? 0)}`,
    ` bytes out     ${formatBytes(s.bytesOut).padStart(12)}   ${formatBytes(running?.bytesOut ?? 0)}`,
    ` connections   ${String(s.connections).padStart(12)}   open now (${s.connectionsOpened} opened since start, ${s.online} user(s) logged in)`,
    ` shadow listeners ${String(s.liveListeners).padStart(9)}   transfers in progress: ${s.transfers}`,
    ` loop late ms  ${String(s.loopMaxEverMs).padStart(12)}   p99 ${s.loopP99Ms}, max ${s.loopMaxMs}   (left: the worst since start)`,
    ` freed         ${formatBytes(s.freedBytes).padStart(12)}   expired attachments removed since start`,
    ...(nodes.length > 0 ? ['', ` the figures above are this node's (*); every node's since it started:`, ...nodes] : []),
    '',
    ` messages per minute, last ${minutes.length} minute(s):`,
    ...barChart(series('messages'), chartHeight, 'min').map((l) => ` ${l}`),
    '',
    ` popups/min    ${sparkline(series('popups'))}`,
    ` bytes in/min  ${sparkline(series('bytesIn'))}`,
    ` bytes out/min ${sparkline(series('bytesOut'))}`,
    ` connections   ${sparkline(series('connections'))}`,
    ` listeners     ${sparkline(series('liveListeners'))}`,
    ` loop late max ${sparkline(series('loopMaxMs'))}`,
  ];
  const transfers = s.transfersInProgress;
  lines.push('', transfers.length ? ' transfers in progress:' : ' no transfers in progress');
  for (const t of transfers) {
    const fraction = t.size > 0 ? t.bytes / t.size : 0;
    lines.push(`  ${t.id} ${t.direction === 'down' ? '↓' : '↑'} ${t.user} ${t.name} ${progressBar(fraction, 20)} ${formatBytes(t.bytes)}${t.size ? ` of ${formatBytes(t.size)}` : ''}`);
  }
  return lines;
}
