/** A baseline peer (a bench/lib/*-peer.ts script) in its own Node process, which tells its port over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './env.js';
import { readCpuSeconds } from './server.js';

export class PeerProcess {
  private constructor(readonly child: ChildProcess, readonly port: number) {}

  static async start(script: string, args: string[] = []): Promise<PeerProcess> {
    const child = fork(path.join(ROOT, 'bench', 'lib', script), args, { execArgv: ['--import=tsx'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: { port: number }) => resolve(m.port));
      child.once('exit', (code) => reject(new Error(`${script} exited ${code}`)));
    });
    return new PeerProcess(child, port);
  }

  get pid(): number {
    return this.child.pid!;
  }

  cpuSeconds(): number {
    return readCpuSeconds(this.pid);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}
