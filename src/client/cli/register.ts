import type { Argv } from 'yargs';
import type { Args } from '../../protocol/index.js';
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
        ? new Promise<Args>((resolve) => client.on('push', (event, args) => { if (event === 'DECISION') resolve(args); }))
        : null;
      const reply = await client.request('REGISTER', {
        institution: opts.institution, contact: opts.contact, email: opts.email, phone: opts.phone,
        address: opts.address, username: opts.username, wait: opts.wait ? 1 : undefined,
      });
      const id = reply.args.get('id');
      if (opts.json) printJson({ id: Number(id), status: 'pending' });
      else print(`${id}\n`);
      if (!decision) return;
      if (!opts.json) printErr('waiting for the administrator\'s decision…\n');
      client.startKeepalive(60_000);
      const closed = new Promise<never>((_, reject) => client.once('close', (reason) =>
        reject(new CliError(`lost the connection while waiting (${reason?.message ?? 'closed'}); the request ${id} stays pending`, 2))));
      const d = await Promise.race([decision, closed]);
      if (opts.json) printJson({ id: Number(id), status: d.get('status'), username: d.get('username'), reason: d.get('reason') });
      if (d.get('status') === 'approved') {
        if (!opts.json) print(`approved: your username is ${d.get('username')}; the password was e-mailed to ${opts.email}\n`);
      } else {
        throw new CliError(`rejected: ${d.get('reason') ?? 'no reason given'}`);
      }
    } finally {
      await client.close();
    }
  },
});
