/**
 * The fleet benchmark's baseline: a bare Node HTTPS server that requires a client certificate from the same CAs and
 * holds WebSocket connections (the `ws` library, as the gateway does), doing nothing else. What one open channel costs
 * in TLS, HTTP and WebSocket alone. Run as its own process: `node --import tsx bench/fleet-baseline-server.ts <port>
 * <cert> <key> <ca>`; it prints `ready` once listening.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { WebSocketServer } from 'ws';

const [port, cert, key, ca] = process.argv.slice(2) as [string, string, string, string];
const server = https.createServer({
  cert: readFileSync(cert),
  key: readFileSync(key),
  ca: readFileSync(ca),
  requestCert: true,
  rejectUnauthorized: true,
});
const wss = new WebSocketServer({ server, maxPayload: 64 * 1024 });
wss.on('connection', (socket) => socket.on('message', () => undefined));
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
