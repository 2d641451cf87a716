import type { Argv } from 'yargs';
import type { Decision } from '../replies.js';
import { CliError, connect, defineCommand, print, printErr, printJson, withServer, type ClientOptions } from './common.js';

type RegisterOpts = ClientOptions & {
  institution: string; contact: string; email: string; phone?: string; address?: string; username: string; wait?: boolean;
};

export const registerCommand = defineCommand<RegisterOpts>({
  command: 'register',
  describe: 'ask to become a member (prints the request id); --wait stays for the decision',
  builder: (y: Argv) => withServer(y)
    .option('institution', { type: 'string', demandOption: true, describe: 'institution name' })
    .option('contact', { type: 'string', demandOption: true, describe: 'contact person' })
    .option('email', { type: 'string', demandOption: true, describe: 'where the credentials are sent' })
    .option('phone', { type: 'string' })
    .option('address', { type: 'string' })
    .option('username', { type: 'string', demandOption: true, describe: 'desired username (a-z, 0-9, . _ -)' })
    .option('wait', { type: 'boolean', describe: 'stay connected until the administrator decides' })
    .option('json', { type: 'boolean', default: false }),
  handler: async (opts: RegisterOpts) => {
    const client = await connect(opts);
    try {
      const decision = opts.wait
        ? new Promise<Decision>((resolve) => client.on('decision', resolve))
        : null;
      const { id } = await client.register({
        institution: opts.institution, contact: opts.contact, email: opts.email, phone: opts.phone,
        address: opts.address, username: opts.username, wait: opts.wait,
      });
      if (opts.json) printJson({ id, status: 'pending' });
      else print(`${id}\n`);
      if (!decision) return;
      if (!opts.json) printErr('waiting for the administrator\'s decision…\n');
      client.startKeepalive(60_000);
      const closed = new Promise<never>((_, reject) => client.once('close', (reason) =>
        reject(new CliError(`lost the connection while waiting (${reason?.message ?? 'closed'}); the request ${id} stays pending`, 2))));
      const d = await Promise.race([decision, closed]);
      if (opts.json) printJson({ id, status: d.status, username: d.username, reason: d.reason });
      if (d.status === 'approved') {
        if (!opts.json) print(`approved: your username is ${d.username}; the password was e-mailed to ${opts.email}\n`);
      } else {
        throw new CliError(`rejected: ${d.reason ?? 'no reason given'}`);
      }
    } finally {
      await client.close();
    }
  },
});
