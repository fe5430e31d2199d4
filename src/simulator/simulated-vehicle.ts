import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ChannelEvent,
  CommandChannel,
  EnvelopeVerifier,
  FileAnswerStore,
  FileCounterStore,
  FileSequenceStore,
  GatewayClient,
  MemoryAnswerStore,
  MemoryCounterStore,
  MemorySequenceStore,
  type StoredCredentials,
  TelemetrySigner,
  VehicleModel,
} from '../vehicle-sdk/index.js';

/** Where a simulated unit comes from: its factory credentials, and where it keeps its own state. */
export interface SimulatedUnit {
  serial: string;
  factoryCert: string;
  factoryKey: string;
  /** Directory for credentials, telemetry sequence and envelope counters; null keeps them in memory. */
  stateDir: string | null;
}

/**
 * One simulated vehicle, built only from the vehicle SDK: it enrolls (or resumes its stored credentials),
 * keeps its command channel, streams signed telemetry of its model, and executes verified commands.
 */
export class SimulatedVehicle {
  readonly model = new VehicleModel();
  readonly gateway: GatewayClient;
  channel: CommandChannel | null = null;
  private signer: TelemetrySigner | null = null;

  constructor(
    readonly unit: SimulatedUnit,
    private readonly options: {
      gatewayUrl: string;
      ca: string;
      onEvent?: (serial: string, e: ChannelEvent) => void;
      trustRoot?: boolean;
    },
  ) {
    this.gateway = new GatewayClient({ gatewayUrl: options.gatewayUrl, ca: options.ca });
  }

  /** The vehicle id, once enrolled. */
  get vehicleId(): string {
    return this.gateway.credentials?.issued.vehicleId ?? '';
  }

  /** Enrolls with the factory certificate, or resumes credentials stored by an earlier run. */
  async start(): Promise<void> {
    const dir = this.unit.stateDir;
    const stored = dir ? join(dir, 'credentials.json') : null;
    if (stored && existsSync(stored))
      await this.gateway.resume(JSON.parse(readFileSync(stored, 'utf8')) as StoredCredentials);
    else {
      await this.gateway.enroll({ cert: this.unit.factoryCert, key: this.unit.factoryKey });
      if (dir && stored) {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        writeFileSync(stored, JSON.stringify(this.gateway.stored()), { mode: 0o600 });
      }
    }
    const { issued, key } = this.gateway.credentials!;
    this.signer = new TelemetrySigner({
      identity: { deviceId: issued.deviceId, vehicleId: issued.vehicleId, swVersion: 'sim-1.0', configId: 'sim' },
      privateKeyPem: key.privateKeyPem,
      sequences: dir ? new FileSequenceStore(join(dir, 'telemetry.seq')) : new MemorySequenceStore(),
    });
    const verifier = new EnvelopeVerifier({
      keys: issued.commandVerificationKeys.keys,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      counters: dir ? new FileCounterStore(join(dir, 'counters.json')) : new MemoryCounterStore(),
      ...(this.options.trustRoot === false ? {} : { trustAnchor: this.options.ca }),
    });
    this.channel = new CommandChannel({
      gateway: this.gateway,
      verifier,
      // A simulated vehicle with a state directory keeps its answers there, like its counters, across restarts.
      answered: dir ? new FileAnswerStore(join(dir, 'answered-acks.json')) : new MemoryAnswerStore(),
      execute: async (c) => {
        const result = this.model.execute(c.command, c.params);
        // The new state goes out right after the acknowledgement, so the next state-dependent command sees it.
        setImmediate(() => void this.report().catch(() => undefined));
        return result;
      },
      onEvent: (e) => this.options.onEvent?.(this.unit.serial, e),
    });
    await this.report();
    await this.channel.connect();
  }

  /** Sends the model's current state as one signed telemetry batch. */
  async report(): Promise<void> {
    if (!this.signer) return;
    const messages = await Promise.all(this.model.telemetry().map((p) => this.signer!.sign(p)));
    await this.gateway.sendTelemetry(messages);
  }

  /** Closes the channel and connections. */
  stop(): void {
    this.channel?.close();
    this.gateway.close();
  }
}
