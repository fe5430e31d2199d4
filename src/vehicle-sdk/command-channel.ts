import { createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import WebSocket from 'ws';
import {
  type AckClaims,
  type AckFrame,
  canonicalJson,
  CommandFrameSchema,
  type KeySetReceiptClaims,
  KeysFrameSchema,
  type EnvelopeClaims,
  envelopeHash,
  type KeysReceiptFrame,
  type SignedEnvelope,
} from '../wire/index.js';
import { join } from 'node:path';
import { type AnswerStore, FileAnswerStore } from './answer-store.js';
import type { EnvelopeVerifier } from './envelope-verifier.js';
import { GatewayError, type GatewayClient } from './gateway-client.js';
import { busyDelayMs, reconnectDelayMs, renewalDelayMs, renewalRetryMs, retryAfterMs } from './retry-schedule.js';
import type { Execution } from './vehicle-model.js';

/** What the channel reports to its owner (logging, the simulator's counters, tests). */
export type ChannelEvent =
  | { kind: 'open' }
  | { kind: 'closed'; code: number; reason: string }
  | { kind: 'executed'; jobId: string; command: string; result: Execution['result'] }
  | { kind: 'refused'; jobId: string | null; code: string }
  | { kind: 'keys'; ok: boolean; kids: string[]; code: string | null };

const isCommandFrame = TypeCompiler.Compile(CommandFrameSchema);
const isKeysFrame = TypeCompiler.Compile(KeysFrameSchema);

/** Signs an acknowledgement (or a key-set receipt) with the device key (Ed25519, or P-256 as IEEE P1363). */
export function signAck(claims: AckClaims | KeySetReceiptClaims, privateKey: KeyObject | string): SignedEnvelope {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const signed = canonicalJson(claims);
  const data = Buffer.from(signed, 'utf8');
  const sig =
    key.asymmetricKeyType === 'ec' ? sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }) : sign(null, data, key);
  return { signed, sig: sig.toString('base64url') };
}

/**
 * The vehicle's end of the command channel: a WebSocket over mTLS to the gateway, authenticated with the
 * certificate-bound command token and kept alive by sending a fresh token before the current one expires.
 * Each envelope is verified, executed once and answered with a signed acknowledgement; a re-delivered
 * envelope gets the acknowledgement it already got, never a second execution.
 */
export class CommandChannel {
  private socket: WebSocket | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Reconnect attempts since the channel was last open (the backoff's exponent). */
  private attempts = 0;
  /** The busy gateway's `Retry-After` (ms) from the last failed attempt, or null. */
  private busyMs: number | null = null;
  private readonly answered: AnswerStore;

  constructor(
    private readonly options: {
      gateway: GatewayClient;
      verifier: EnvelopeVerifier;
      execute: (claims: EnvelopeClaims) => Execution | Promise<Execution>;
      /**
       * Where the signed answers live, so a re-sent envelope gets the same answer after a restart: `stateDir` keeps
       * them in `<stateDir>/answered-acks.json`, `answered` takes any store (`new MemoryAnswerStore()` only in
       * tests). One is required.
       */
      stateDir?: string;
      answered?: AnswerStore;
      onEvent?: (event: ChannelEvent) => void;
      /**
       * Reconnect after a drop (default true): exponential backoff with full jitter from `reconnectMs` (default
       * 1000) up to `reconnectMaxMs` (default 30 s), so a fleet dropped together does not return together.
       */
      reconnect?: boolean;
      reconnectMs?: number;
      reconnectMaxMs?: number;
      now?: () => number;
    },
  ) {
    if (options.answered) this.answered = options.answered;
    else if (options.stateDir) this.answered = new FileAnswerStore(join(options.stateDir, 'answered-acks.json'));
    else
      throw new Error(
        'CommandChannel needs a persistent answer store: pass stateDir (or answered: new MemoryAnswerStore() in tests)',
      );
  }

  /** Opens the channel; resolves once the gateway accepted it. */
  async connect(): Promise<void> {
    this.stopped = false;
    const { gatewayUrl, ca, cert, key } = this.options.gateway.tlsIdentity();
    const fetchedAt = Date.now();
    const { token, expiresIn } = await this.options.gateway.commandToken(true).catch((err: unknown) => {
      this.busyMs = busyOf(err);
      throw err;
    });
    const url = `${gatewayUrl.replace(/^https:/, 'wss:')}/v1/commands/channel`;
    const socket = new WebSocket(url, {
      ca,
      cert,
      key,
      headers: { authorization: `Bearer ${token}` },
      maxPayload: 64 * 1024,
    });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        reject(new GatewayError(status, null, null, retryAfterMs(res.headers['retry-after'])));
        res.resume();
        socket.terminate();
      });
      socket.once('error', reject);
    }).catch((err: unknown) => {
      this.busyMs = busyOf(err);
      throw err;
    });
    this.options.onEvent?.({ kind: 'open' });
    this.attempts = 0;
    this.busyMs = null;
    // Counted from when the token was fetched: under load the WebSocket handshake itself can take seconds.
    this.scheduleRenewal(expiresIn, fetchedAt);
    socket.on('message', (data) => void this.onMessage(String(data)).catch(() => undefined));
    socket.on('error', () => undefined);
    socket.on('close', (code, reason) => {
      if (this.renewTimer) clearTimeout(this.renewTimer);
      this.options.onEvent?.({ kind: 'closed', code, reason: reason.toString() });
      if (!this.stopped && this.options.reconnect !== false) {
        const { reconnectMs, reconnectMaxMs } = this.options;
        const backoff = reconnectDelayMs(this.attempts++, reconnectMs ?? 1000, reconnectMaxMs);
        // A busy gateway said when to come back: not before that, and spread by jitter past it.
        const delay = this.busyMs === null ? backoff : Math.max(backoff, busyDelayMs(this.busyMs));
        this.busyMs = null;
        setTimeout(() => {
          if (!this.stopped)
            this.connect().catch(() =>
              // Told apart for the owner: a busy gateway shedding load is not a failure of this vehicle.
              socket.emit('close', 1006, Buffer.from(this.busyMs === null ? 'reconnect failed' : 'gateway busy')),
            );
        }, delay).unref();
      }
    });
  }

  /** Whether the channel is open now. */
  get open(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Closes the channel for good. */
  close(): void {
    this.stopped = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.socket?.close(1000, 'bye');
  }

  private scheduleRenewal(expiresIn: number, fetchedAt: number): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    // The gateway closes the channel when the token it holds expires: renew between 40 % and 65 % of the
    // lifetime, at random, so vehicles that connected together do not all renew in the same second.
    const expiresAt = fetchedAt + expiresIn * 1000;
    const delay = Math.max(0, fetchedAt + renewalDelayMs(expiresIn) - Date.now());
    this.renewTimer = setTimeout(() => void this.renew(expiresAt, 0), delay);
    this.renewTimer.unref();
  }

  private async renew(expiresAt: number, attempt: number): Promise<void> {
    try {
      const fetchedAt = Date.now();
      const { token, expiresIn } = await this.options.gateway.commandToken(true);
      this.socket?.send(JSON.stringify({ type: 'token', token }));
      this.scheduleRenewal(expiresIn, fetchedAt);
    } catch (err) {
      // Retried with backoff and jitter (no sooner than a busy gateway asked), always before the token in force
      // expires: a renewal delayed by load must not cost the channel.
      if (this.renewTimer) clearTimeout(this.renewTimer);
      const remaining = expiresAt - Date.now();
      const busy = busyOf(err);
      const retry = renewalRetryMs(attempt, remaining);
      const wait = busy === null ? retry : Math.min(Math.max(retry, busyDelayMs(busy)), Math.max(50, remaining / 2));
      this.renewTimer = setTimeout(() => void this.renew(expiresAt, attempt + 1), wait);
      this.renewTimer.unref();
    }
  }

  private async onMessage(text: string): Promise<void> {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (isKeysFrame.Check(msg)) return this.onKeys(msg.update);
    if (!isCommandFrame.Check(msg)) {
      const isCommand = typeof msg === 'object' && msg !== null && 'type' in msg && msg.type === 'command';
      if (isCommand) this.options.onEvent?.({ kind: 'refused', jobId: null, code: 'malformed' });
      return;
    }
    const envelope = msg.envelope;
    const hash = envelopeHash(envelope);
    const earlier = this.answered.get(hash);
    if (earlier) return this.send({ type: 'ack', ack: earlier });
    const verdict = this.options.verifier.verify(envelope);
    const { issued, key } =
      this.options.gateway.credentials ??
      (() => {
        throw new Error('not enrolled');
      })();
    const base = {
      v: 1 as const,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      envelopeHash: hash,
      at: (this.options.now ?? Date.now)(),
    };
    if (!verdict.ok) {
      this.options.onEvent?.({
        kind: 'refused',
        jobId: typeof verdict.claims?.jobId === 'string' ? verdict.claims.jobId : null,
        code: verdict.code,
      });
      // Only answer envelopes that name a job: a refusal is signed, so the platform learns the vehicle did nothing.
      if (typeof verdict.claims?.jobId !== 'string') return;
      const ack = signAck(
        {
          ...base,
          jobId: verdict.claims.jobId,
          counter: typeof verdict.claims.counter === 'number' ? verdict.claims.counter : 0,
          result: 'refused',
          code: verdict.code,
        },
        key.privateKeyPem,
      );
      return this.send({ type: 'ack', ack });
    }
    const c = verdict.claims;
    let outcome: Execution;
    try {
      outcome = await this.options.execute(c);
    } catch {
      outcome = { result: 'failed', code: 'execution_error' };
    }
    const ack = signAck(
      { ...base, jobId: c.jobId, counter: c.counter, result: outcome.result, code: outcome.code },
      key.privateKeyPem,
    );
    // Stored durably before it is sent: a restart after this point answers a re-sent envelope with this ack.
    this.answered.put(hash, ack);
    this.options.onEvent?.({ kind: 'executed', jobId: c.jobId, command: c.command, result: outcome.result });
    this.send({ type: 'ack', ack });
  }

  /** Takes a signed key-set update (or not) and answers with a signed receipt naming the kids trusted now. */
  private onKeys(update: SignedEnvelope): void {
    const verdict = this.options.verifier.updateKeys(update);
    const kids = verdict.ok ? verdict.kids : this.options.verifier.kids();
    this.options.onEvent?.({ kind: 'keys', ok: verdict.ok, kids, code: verdict.ok ? null : verdict.code });
    const { issued, key } = this.options.gateway.credentials ?? { issued: null, key: null };
    if (!verdict.ok || !issued || !key) return;
    const receipt = signAck(
      {
        v: 1,
        kind: 'command-keys-receipt',
        vehicleId: issued.vehicleId,
        deviceId: issued.deviceId,
        issuedAt: verdict.issuedAt,
        kids,
        at: (this.options.now ?? Date.now)(),
      },
      key.privateKeyPem,
    );
    if (this.socket?.readyState === WebSocket.OPEN)
      this.socket.send(JSON.stringify({ type: 'keys-receipt', receipt } satisfies KeysReceiptFrame));
  }

  private send(message: AckFrame): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}

/** The `Retry-After` (ms) of a busy gateway's refusal, or null for any other failure. */
function busyOf(err: unknown): number | null {
  return err instanceof GatewayError && err.status === 503 ? err.retryAfterMs : null;
}
