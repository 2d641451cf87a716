/**
 * Peers that do not read (issue 20 §1), against a real `siar server` process so the RSS measured is
 * the server's own: 128 connections from two addresses pipeline thousands of HELP frames each and
 * never read a reply, while a well-behaved client on a third address PINGs every 50 ms. Budget:
 * the server's RSS rises by less than 128 MiB, the PINGs are answered within 200 ms, and once the
 * peers have gone the RSS is back within 20 % of its idle level.
 *
 * On the code before the fix the server ran each peer's backlog to its 8 MiB output cap in one go:
 * the PING waited tens of seconds and the memory stayed (docs/RELIABILITY.md, Hardening II).
 */
import net from 'node:net';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { tempDir } from '../helpers/siar.js';
import { ChildServer, RawControl, freePort, sleep, waitFor } from './helpers.js';

const PEERS = 128;
const FRAMES_PER_PEER = 2_000; // about 13 MB of replies each: more than the kernel holds for a peer
const ADDRESSES = ['127.0.0.2', '127.0.0.3'];
const MiB = 1024;

t.setTimeout(180_000);

/** CPU time (user + system, in clock ticks) the process has used. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Connects from `localAddress`, writes `frames` HELP requests as fast as the socket takes them, never reads. */
async function floodWithoutReading(port: number, localAddress: string, frames: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.pause();
  socket.on('error', () => undefined);
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  for (let sent = 0; sent < frames && !socket.destroyed; sent += 100) {
    const chunk = Array.from({ length: 100 }, (_, i) => `h${sent + i}|HELP`).join('\n') + '\n';
    // Once the server stops reading, the kernel's buffers fill and the peer just holds on.
    if (!socket.write(chunk) && !(await Promise.race([new Promise((r) => socket.once('drain', () => r(true))), sleep(1000).then(() => false)]))) break;
  }
  return socket;
}

/** PINGs every 50 ms; a PING still unanswered counts with its age so far. */
function pingEvery50ms(client: RawControl): { stop(): Promise<number[]> } {
  const latencies: number[] = [];
  let running = true;
  let pending: number | null = null;
  const loop = (async () => {
    while (running) {
      pending = performance.now();
      const r = await client.request('PING');
      if (!r.ok) throw new Error(`PING failed: ${r.code}`);
      latencies.push(performance.now() - pending);
      pending = null;
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      if (pending !== null) latencies.push(performance.now() - pending);
      await Promise.race([loop, sleep(1000)]);
      return latencies;
    },
  };
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

t.test(`${PEERS} peers that pipeline HELP and never read cost little, do not hold up a PING, and give their memory back`, async (t) => {
  const root = tempDir(t, 'siar-non-reading-');
  const server = await ChildServer.start({ dataDir: path.join(root, 'data'), port: await freePort(), logFile: path.join(root, 'server.log') });
  t.teardown(() => server.stop());
  const steady = await RawControl.connect(server.opts.port, '127.0.0.1');
  t.teardown(() => steady.close());

  // The idle level: the server serving the well-behaved client only.
  const idlePings = pingEvery50ms(steady);
  const idleSamples: number[] = [];
  for (let i = 0; i < 20; i++) {
    idleSamples.push(server.rssKiB());
    await sleep(100);
  }
  await idlePings.stop();
  const idle = idleSamples.sort((a, b) => a - b)[idleSamples.length >> 1]!;

  const pings = pingEvery50ms(steady);
  let peak = idle;
  const sampler = setInterval(() => { peak = Math.max(peak, server.rssKiB()); }, 50);
  const started = Date.now();
  const peers = await Promise.all(Array.from({ length: PEERS }, (_, i) => floodWithoutReading(server.opts.port, ADDRESSES[i % 2]!, FRAMES_PER_PEER)));
  t.teardown(() => { for (const p of peers) p.destroy(); });
  // The attack is absorbed when the server has stopped working for the peers (at most 40 s).
  let ticks = cpuTicks(server.pid);
  await waitFor(async () => {
    await sleep(1000);
    const now = cpuTicks(server.pid);
    const busy = now - ticks;
    ticks = now;
    return busy < 10; // under 10 % of a core over the last second
  }, 40_000, 0);
  const absorbedAfter = Date.now() - started;
  const latencies = (await pings.stop()).sort((a, b) => a - b);
  clearInterval(sampler);
  peak = Math.max(peak, server.rssKiB());

  for (const p of peers) p.destroy();
  // Back within 20 % of the idle level once they have gone (the server collects a few seconds after).
  let after = server.rssKiB();
  await waitFor(() => (after = server.rssKiB()) <= idle * 1.2, 30_000, 250);

  const figures = `idle ${Math.round(idle / MiB)} MiB, peak ${Math.round(peak / MiB)} MiB (+${Math.round((peak - idle) / MiB)}), `
    + `after ${Math.round(after / MiB)} MiB; ${latencies.length} PINGs: p50 ${fmt(quantile(latencies, 0.5))}, p99 ${fmt(quantile(latencies, 0.99))}, `
    + `max ${fmt(latencies.at(-1)!)}; absorbed in ${(absorbedAfter / 1000).toFixed(1)} s`;
  t.comment(figures);
  t.ok(peak - idle < 128 * MiB, `RSS rose by less than 128 MiB (${figures})`);
  t.ok(quantile(latencies, 0.99) <= 200, `PINGs answered within 200 ms meanwhile (p99; ${figures})`);
  t.ok(latencies.at(-1)! < 1000, `and none waited a second (${figures})`);
  t.ok(after <= idle * 1.2, `RSS back within 20 % of idle after they went (${figures})`);
  const r = await steady.request('PING');
  t.ok(r.ok, 'the well-behaved client is still served');
});
