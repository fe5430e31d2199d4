import type { TLSSocket } from 'node:tls';
import { Type } from '@sinclair/typebox';
import websocket from '@fastify/websocket';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { tokenOf } from '../auth/index.js';
import type { TokenVerifier } from '../auth/index.js';
import { deviceOf } from '../gateway/index.js';
import type { RouteRegistrar } from '../http/index.js';
import { requestContext } from '../http/index.js';
import type { CommandAuditLog } from './audit-events.js';
import { certificateThumbprint } from '../pki/index.js';
import type { Dispatcher } from './dispatcher.js';

/** Channel limits: a vehicle sends a few acks and token renewals a minute, each well under a kilobyte. */
const CHANNEL_MESSAGES_PER_10S = 100;
const CHANNEL_MAX_FRAME_BYTES = 16 * 1024;
/** Refused acks audited one by one per connection, and how many close it. */
const AUDITED_REFUSALS = 5;
const MAX_REFUSED_ACKS = 20;
/**
 * How long past its token's expiry a channel stays open while a renewal the vehicle sent before that expiry is still
 * being checked (queued behind the channel's earlier messages on a loaded node). The renewal decides: a token that
 * does not verify closes the channel with 4401; one that never gets checked within this bound closes it too.
 */
const RENEWAL_CHECK_GRACE_MS = 10_000;

/** Where the command channel is served on the vehicle gateway. */
export const COMMAND_CHANNEL_PATH = '/v1/commands/channel';

/** The audience and scope of command-channel tokens. */
export const COMMANDS_AUDIENCE = 'urn:carapace:commands';

/**
 * The command channel on the vehicle gateway: a WebSocket opened over mTLS with the operational
 * certificate (the gateway's device authentication runs first, as for every route) and a command token
 * bound to that certificate. The token lives 60 s; the vehicle sends a fresh one (`{"type":"token"}`)
 * before it expires, or the channel is closed with 4401. A revoked certificate closes the connection.
 */
export function registerCommandChannel(
  routes: RouteRegistrar,
  deps: {
    dispatcher: Dispatcher;
    verify: TokenVerifier;
    audit: CommandAuditLog;
    db: Kysely<Database>;
    baseUrl: () => string;
  },
): void {
  routes.scope((withSockets, app) => {
    void app.register(websocket, { options: { maxPayload: 64 * 1024 } });
    // Declared in a child scope so it is added after the WebSocket plugin has loaded.
    withSockets.scope((scoped) =>
      scoped.websocket(
        COMMAND_CHANNEL_PATH,
        {
          auth: { kind: 'device', token: { audience: COMMANDS_AUDIENCE, scopes: ['commands:receive'] } },
          catalog: {
            owner: 'commands',
            purpose: 'The vehicle keeps its command channel: signed envelopes in, signed acknowledgements out.',
            callers: ['device'],
            action: 'commands:receive',
            classification: 'confidential',
            scopes: ['commands:receive'],
            safetyImpact: 'high',
            status: 'beta',
          },
          schema: { response: { 101: Type.Null({ description: 'switches to the command channel protocol' }) } },
        },
        (socket, req) => {
          const device = deviceOf(req, 'operational');
          const token = tokenOf(req);
          const tls = req.raw.socket as TLSSocket;
          const peer = tls.getPeerX509Certificate();
          if (token.clientId !== `device:${device.deviceId}` || !peer) {
            socket.close(4403, "the token is not this device's");
            return;
          }
          const thumbprint = certificateThumbprint(peer.raw);
          let expiresAt = token.expiresAt * 1000;
          const conn = {
            deviceId: device.deviceId,
            vehicleId: device.vehicleId,
            certificateKey: peer.publicKey,
            certificateSerial: device.serial,
            context: requestContext(req),
            send: (m: string) => socket.send(m),
            close: (code: number, reason: string) => socket.close(code, reason),
            probe: (timeoutMs: number) =>
              new Promise<boolean>((resolve) => {
                if (socket.readyState !== socket.OPEN) return resolve(false);
                const timer = setTimeout(() => {
                  socket.off('pong', onPong);
                  resolve(false);
                }, timeoutMs);
                const onPong = () => {
                  clearTimeout(timer);
                  resolve(true);
                };
                socket.once('pong', onPong);
                socket.ping();
              }),
          };
          // Renewals received before the token in force expired and not yet checked.
          let renewalsInCheck = 0;
          const expiry = setInterval(() => {
            const deadline = expiresAt + (renewalsInCheck > 0 ? RENEWAL_CHECK_GRACE_MS : 0);
            if (Date.now() >= deadline) socket.close(4401, 'command token expired');
          }, 1000);
          expiry.unref();
          // Nothing the vehicle sends counts before the dispatcher took the channel: a refused clone's acks are unread.
          const attached = deps.dispatcher
            .attach(conn)
            .catch((err: unknown) => {
              req.log.warn({ err }, 'command channel attach failed');
              return false;
            })
            // The gateway's admission slot covers the opening only: an open channel is cheap to hold.
            .finally(() => req.admitted?.());
          // A device that floods its channel (oversized frames, many messages, refused acks) is cut off: one
          // compromised unit must not be able to fill the audit trail or keep the database busy.
          let refused = 0;
          let queue: Promise<void> = Promise.resolve();
          let windowStart = Date.now();
          let inWindow = 0;
          const cutOff = (why: string) => {
            void deps.audit
              .append(deps.db, {
                type: 'commands.channel.closed',
                actor: { type: 'device', id: device.deviceId },
                object: { type: 'vehicle', id: device.vehicleId },
                action: 'commands:receive',
                decision: 'deny',
                reason: why,
                context: requestContext(req),
                details: { serial: device.serial, refusedAcks: refused },
              })
              .catch((err: unknown) => req.log.warn({ err }, 'could not audit a channel cut-off'));
            socket.close(1008, why);
          };
          socket.on('message', (data: Buffer) => {
            if (Date.now() - windowStart > 10_000) {
              windowStart = Date.now();
              inWindow = 0;
            }
            if (++inWindow > CHANNEL_MESSAGES_PER_10S) return cutOff('too many messages');
            if (data.length > CHANNEL_MAX_FRAME_BYTES) return cutOff('frame too large');
            // A renewal that arrived in time counts as in time, however long the queue ahead of it takes.
            const inTime = Date.now() < expiresAt && data.includes('"token"');
            if (inTime) renewalsInCheck++;
            // One message at a time per channel: acks are judged in order and a flood cannot run ahead of its limits.
            queue = queue
              .then(async () => {
                if (!(await attached) || socket.readyState !== socket.OPEN) return;
                let msg: { type?: unknown; token?: unknown; ack?: unknown; receipt?: unknown };
                try {
                  msg = JSON.parse(data.toString('utf8')) as typeof msg;
                } catch {
                  return;
                }
                if (msg.type === 'token' && typeof msg.token === 'string') {
                  try {
                    const renewed = await deps.verify(
                      {
                        authorization: `Bearer ${msg.token}`,
                        dpop: undefined,
                        method: 'GET',
                        url: `${deps.baseUrl()}/v1/commands/channel`,
                        certificateThumbprint: thumbprint,
                      },
                      COMMANDS_AUDIENCE,
                    );
                    if (renewed.clientId !== token.clientId || !renewed.scopes.has('commands:receive'))
                      throw new Error('wrong token');
                    expiresAt = renewed.expiresAt * 1000;
                  } catch {
                    socket.close(4401, 'the renewed command token is not valid');
                  }
                } else if (msg.type === 'keys-receipt' && msg.receipt && typeof msg.receipt === 'object') {
                  const why = await deps.dispatcher.keysReceipt(conn, msg.receipt as { signed: string; sig: string });
                  if (why !== null && ++refused >= MAX_REFUSED_ACKS) cutOff('too many refused acknowledgements');
                } else if (msg.type === 'ack' && msg.ack && typeof msg.ack === 'object') {
                  const why = await deps.dispatcher.acknowledge(conn, msg.ack as { signed: string; sig: string }, {
                    quiet: refused >= AUDITED_REFUSALS,
                  });
                  if (why !== null && ++refused >= MAX_REFUSED_ACKS) cutOff('too many refused acknowledgements');
                }
              })
              .catch((err: unknown) => req.log.warn({ err }, 'command channel message failed'))
              .finally(() => {
                if (inTime) renewalsInCheck--;
              });
          });
          socket.on('close', () => {
            clearInterval(expiry);
            deps.dispatcher.detach(conn);
          });
          void deps.audit
            .append(deps.db, {
              type: 'commands.channel.opened',
              actor: { type: 'device', id: device.deviceId },
              object: { type: 'vehicle', id: device.vehicleId },
              action: 'commands:receive',
              decision: 'allow',
              context: requestContext(req),
              details: { serial: device.serial, jti: token.jti },
            })
            .catch((err: unknown) => req.log.warn({ err }, 'could not audit a channel opening'));
        },
      ),
    );
  });
}
