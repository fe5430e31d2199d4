import { createPrivateKey, type KeyObject, randomUUID, sign } from 'node:crypto';
import type { SequenceStore } from './sequence-store.js';
import {
  canonicalMessage,
  type SignedTelemetry,
  type TelemetryMessage,
  type TelemetryPayload,
  validateTelemetryMessage,
} from '../wire/index.js';

/** Who the device is and what it runs: the fixed part of every message. */
export interface TelemetryIdentity {
  deviceId: string;
  vehicleId: string;
  swVersion: string;
  configId: string;
}

/**
 * Signs telemetry on the device and keeps its sequence. Sequence numbers are monotonic per device across
 * restarts: the signer reserves them in blocks, recording the end of each block in the store before using
 * any number in it, so a crash skips at most one block and never reuses a number (which the gateway would
 * refuse as a replay). Each signer instance is one boot, with its own random `bootId`.
 */
export class TelemetrySigner {
  readonly bootId = randomUUID();
  private key: KeyObject;
  private next = 0;
  private reservedUpTo = 0;
  private opened: Promise<void> | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly options: {
      identity: TelemetryIdentity;
      privateKeyPem: string;
      sequences: SequenceStore;
      /** How many numbers to reserve per store write (default 256). */
      reserve?: number;
      now?: () => number;
    },
  ) {
    this.key = createPrivateKey(options.privateKeyPem);
  }

  /**
   * Signs one payload as the next message; calls are serialized so numbers follow call order. The message is
   * checked first with the schema the gateway checks it with: one it would reject as `invalid_schema` is refused
   * here, before it takes a sequence number.
   */
  sign(
    payload: TelemetryPayload,
    options: { ts?: number } = {},
  ): Promise<SignedTelemetry & { message: TelemetryMessage }> {
    const result = this.chain.then(async () => {
      const draft = {
        ...this.options.identity,
        bootId: this.bootId,
        seq: 1,
        ts: options.ts ?? (this.options.now ?? Date.now)(),
        payload,
      };
      const valid = validateTelemetryMessage(draft);
      if (!valid.ok) throw new TypeError(`not a valid telemetry message: ${valid.detail}`);
      const message: TelemetryMessage = { ...draft, seq: await this.nextSeq() };
      return { ...signMessage(message, this.key), message };
    });
    this.chain = result.catch(() => undefined);
    return result;
  }

  /**
   * Signs from now on with the key of a new operational certificate (call it after GatewayClient.rotate()).
   * Messages signed before stay valid: the gateway checks them against the certificate that was current when
   * they were recorded.
   */
  useKey(privateKeyPem: string): void {
    this.key = createPrivateKey(privateKeyPem);
  }

  /** The number the next message will carry (after the store was read). */
  async peek(): Promise<number> {
    await this.open();
    return this.next;
  }

  private open(): Promise<void> {
    this.opened ??= this.options.sequences.load().then((hw) => {
      this.next = hw + 1;
      this.reservedUpTo = hw;
    });
    return this.opened;
  }

  private async nextSeq(): Promise<number> {
    await this.open();
    if (this.next > this.reservedUpTo) {
      const upTo = this.next + (this.options.reserve ?? 256) - 1;
      await this.options.sequences.save(upTo);
      this.reservedUpTo = upTo;
    }
    return this.next++;
  }
}

/**
 * Signs a complete message with a device key (Ed25519, or P-256 with an IEEE P1363 signature), as it is: no
 * schema check, so tests and tools can build what an attacker would send. Devices use TelemetrySigner.
 */
export function signMessage(message: TelemetryMessage, key: KeyObject | string): SignedTelemetry {
  const keyObject = typeof key === 'string' ? createPrivateKey(key) : key;
  const signed = canonicalMessage(message);
  const data = Buffer.from(signed, 'utf8');
  const sig =
    keyObject.asymmetricKeyType === 'ec'
      ? sign('sha256', data, { key: keyObject, dsaEncoding: 'ieee-p1363' })
      : sign(null, data, keyObject);
  return { signed, sig: sig.toString('base64url') };
}
