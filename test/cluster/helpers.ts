/**
 * The cluster suite's setup (issue 19): `npm run cluster`'s own startCluster (scripts/cluster.ts) —
 * a private PostgreSQL and Redis in a temp dir and three real `siar server` child processes —
 * with every node mailing through a real SMTP receiver, and members made the way an institution
 * becomes one: REGISTER on a node, APPROVE by the administrator on node 1, the mailed password,
 * then its own. Without PostgreSQL or Redis installed the files are skipped, except under CI.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { SiarClient } from '../../src/client/index.js';
import { startCluster, type Cluster, type ClusterOptions } from '../../scripts/cluster.js';
import { postgresBinDir, redisServerPath } from '../../scripts/services.js';
import { requireCapability } from '../helpers/capability.js';
import { SIAR } from '../helpers/cli.js';
import { ownPassword, parseEml, passwordFromText } from '../helpers/siar.js';
import { startReceiver, type Receiver } from '../server/mail/helpers.js';

export interface TestCluster extends Cluster {
  receiver: Receiver;
  /** A connected client on node i (0-based), closed when the test ends. */
  client(i: number): Promise<SiarClient>;
  admin(i?: number): Promise<SiarClient>;
  /** Registers on node `on`, is approved on node 1, reads the mailed password, sets its own; returns it. */
  member(username: string, on?: number): Promise<string>;
  /** A member logged in on node i with popups. */
  memberClient(username: string, i: number): Promise<SiarClient>;
}

/** The cluster, or null when the test is skipped for want of PostgreSQL or Redis. */
export async function testCluster(
  t: Test, nodeArgs: string[] = ['--catch-up-interval', '1s'], more: Pick<ClusterOptions, 'nodes' | 'mailKeys'> = {},
): Promise<TestCluster | null> {
  if (!requireCapability(t, 'PostgreSQL', postgresBinDir() ? false : 'PostgreSQL is not installed (apt-get install postgresql)')) return null;
  if (!requireCapability(t, 'Redis', redisServerPath() ? false : 'Redis is not installed (apt-get install redis-server)')) return null;
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const dir = mkdtempSync(path.join(tmpdir(), 'siar-cluster-test-'));
  const cluster = await startCluster({
    ...more, dir: path.join(dir, 'c'), siar: [process.execPath, SIAR], fast: true, nodeArgs, env: { SIAR_SMTP: receiver.url, SIAR_LOG_LEVEL: 'info' },
  });
  t.teardown(async () => { await cluster.stop(); rmSync(dir, { recursive: true, force: true }); });
  const passwords = new Map<string, string>();
  const client = async (i: number): Promise<SiarClient> => {
    const c = await SiarClient.connect({ host: '127.0.0.1', port: cluster.nodes[i]!.port });
    t.teardown(() => c.close());
    return c;
  };
  let adminOn1: SiarClient | undefined;
  const admin = async (i = 0): Promise<SiarClient> => {
    const c = await client(i);
    await c.login('admin', cluster.adminPassword());
    return c;
  };
  const mailedPassword = async (username: string): Promise<string> => {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      for (const m of [...receiver.received].reverse()) {
        const text = parseEml(m.raw).text;
        if (text.split('\n').includes(`Username: ${username}`)) return passwordFromText(text, username);
      }
    }
    throw new Error(`no credentials mail for ${username}`);
  };
  return Object.assign(cluster, {
    receiver, client, admin,
    async member(username: string, on = 0) {
      adminOn1 ??= await admin(0);
      const anon = await client(on);
      const reg = await anon.register({ institution: `Universitas ${username}`, contact: 'Humas', email: `humas@${username}.ac.id`, username });
      await adminOn1.admin.approve(reg.id);
      const mailed = await mailedPassword(username);
      await anon.login(username, mailed, { popups: false });
      await anon.changePassword(mailed, ownPassword(username));
      await anon.close();
      passwords.set(username, ownPassword(username));
      return ownPassword(username);
    },
    async memberClient(username: string, i: number) {
      const c = await client(i);
      await c.login(username, passwords.get(username) ?? ownPassword(username));
      return c;
    },
  });
}

/** Every popup id a client is pushed, in order (repeats kept, so a test can see them). */
export function popupsOf(c: SiarClient): number[] {
  const ids: number[] = [];
  c.on('popup', (p) => ids.push(p.id));
  return ids;
}
