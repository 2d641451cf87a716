import { once } from 'node:events';
import net from 'node:net';
import t from 'tap';
import { SiarClient } from '../../src/client/connection.js';
import { startServer } from '../helpers/siar.js';
import { makePki } from '../helpers/tls.js';

t.test('with --tls-cert/--tls-key the control port speaks TLS and clients verify it with --ca', async (t) => {
  const pki = makePki(t);
  const s = await startServer(t, { tls: { cert: pki.cert, key: pki.key } });
  const client = await SiarClient.connect({ host: '127.0.0.1', port: s.port, tls: { ca: pki.ca } });
  t.teardown(() => client.close());
  await client.login('admin', s.adminPassword());
  t.equal((await client.request('WHOAMI')).args.get('role'), 'admin', 'a verified client works as usual');
  t.match(s.logs.output, /"tls":true/, 'the start log says TLS is on');
});

t.test('a client that does not trust the certificate is refused', async (t) => {
  const pki = makePki(t);
  const s = await startServer(t, { tls: { cert: pki.cert, key: pki.key } });
  await t.rejects(SiarClient.connect({ host: '127.0.0.1', port: s.port, tls: {} }), /self-signed|unable to verify|certificate/i);
});

t.test('a plain-text peer on a TLS port gets no frame and the server keeps serving', async (t) => {
  const pki = makePki(t);
  const s = await startServer(t, { tls: { cert: pki.cert, key: pki.key } });
  const raw = net.connect(s.port, '127.0.0.1');
  await once(raw, 'connect');
  let got = '';
  raw.on('data', (d) => { got += d.toString('latin1'); });
  raw.on('error', () => undefined);
  raw.write('1|PING\n');
  await once(raw, 'close');
  t.notMatch(got, /HELLO|PONG|pong/, 'nothing in clear');
  const ok = await SiarClient.connect({ host: '127.0.0.1', port: s.port, tls: { ca: pki.ca } });
  t.teardown(() => ok.close());
  t.equal((await ok.request('PING')).args.get('pong'), '1');
});

t.test('without TLS on a non-loopback address the server warns at start', async (t) => {
  const s = await startServer(t, { host: '0.0.0.0' });
  t.match(s.logs.output, /non-loopback address without TLS/);
  const loop = await startServer(t);
  t.notMatch(loop.logs.output, /non-loopback address without TLS/, 'no warning on loopback');
});

t.test('the siar CLI verifies a TLS server with --ca', async (t) => {
  const { execFile } = await import('node:child_process');
  const pki = makePki(t);
  const s = await startServer(t, { tls: { cert: pki.cert, key: pki.key } });
  const { SIAR: siar } = await import('../helpers/cli.js');
  const run = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [siar, ...args], {
      env: { ...process.env, SIAR_SERVER: `127.0.0.1:${s.port}`, SIAR_USER: 'admin', SIAR_PASSWORD: s.adminPassword() },
    }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
  });
  const ok = await run(['admin', 'members', '--json', '--ca', pki.caFile]);
  t.equal(ok.code, 0, ok.stderr);
  const untrusted = await run(['admin', 'members', '--tls']);
  t.not(untrusted.code, 0);
  t.match(untrusted.stderr, /^siar: Could not reach the siar server[^\n]*(certificate|self-signed)[^\n]*\n$/);
});
