/**
 * The do-nothing baseline for scenario 3: a Node process that speaks just enough of siar's
 * protocol, with the project's own codec, for the same lean clients — HELLO, LOGIN (any password,
 * no hashing), and SEND answered `OK` at once while a POPUP goes to the named user's socket. No
 * store, no authentication, no validation: what one Node process on this machine can forward
 * through the same harness, so the durable figure can be read against it. Started with fork;
 * tells its port over IPC.
 */
import net from 'node:net';
import { LineReader, PREVIEW_CHARS, decodeRequest, encodeError, encodeOk, encodePush, popupToArgs } from '../../src/protocol/index.js';

const sockets = new Map<string, net.Socket>();
let nextMessageId = 1;

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  const reader = new LineReader(1024 * 1024);
  let username = '';
  socket.write(`${encodePush('HELLO', { server: 'forward-peer', protocol: 1 })}\n`);
  socket.on('data', (chunk: Buffer) => {
    for (const read of reader.push(chunk)) {
      if (!read.ok) continue;
      let request;
      try {
        request = decodeRequest(read.line);
      } catch {
        continue;
      }
      if (request.verb === 'LOGIN') {
        username = request.args.get('username') ?? '';
        sockets.set(username, socket);
        socket.write(`${encodeOk(request.id, { token: `t-${username}`, username, role: 'member' })}\n`);
      } else if (request.verb === 'SEND') {
        const id = nextMessageId++;
        const sentAt = new Date().toISOString();
        socket.write(`${encodeOk(request.id, { id, sentAt, recipients: 1, audience: 'direct' })}\n`);
        const body = request.args.get('body') ?? '';
        const preview = body.length > PREVIEW_CHARS ? `${body.slice(0, PREVIEW_CHARS - 1)}…` : body;
        sockets.get(request.args.get('to') ?? '')?.write(`${encodePush('POPUP', popupToArgs({
          id, from: username, institution: '', subject: request.args.get('subject') ?? '', preview, sentAt, attachments: [], via: '',
        }))}\n`);
      } else {
        socket.write(`${encodeError(request.id, 'UNKNOWN_COMMAND', 'the forward peer knows LOGIN and SEND')}\n`);
      }
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => { if (sockets.get(username) === socket) sockets.delete(username); });
});

server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as net.AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
