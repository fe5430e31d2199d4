import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { CarapaceClient, clientCredentialsToken } from '../client/index.js';
import { currentTotp } from '../identity/index.js';
import { SimulatedVehicle, unitsIn } from '../simulator/index.js';
import {
  CommandChannel,
  EnvelopeVerifier,
  GatewayClient,
  MemoryAnswerStore,
  MemoryCounterStore,
  MemorySequenceStore,
  type StoredCredentials,
  TelemetrySigner,
} from '../vehicle-sdk/index.js';
import { callNode, type DrillNode, type DrillTarget } from './nodes.js';
import type { DrillIdentities } from './scenario.js';

/** The asset an attack uses, as findings and incidents name it. */
export interface StagedAsset {
  kind: 'devices' | 'users' | 'clients';
  id: string;
}

/** A staged attack: when it happened, what it used, and a probe that says whether a node now refuses it. */
export interface StagedAttack {
  description: string;
  attackedAt: number;
  asset: StagedAsset;
  /** True once `node` refuses the stolen credential. */
  refusedBy(node: DrillNode): Promise<boolean>;
  stop(): void;
}

/** True once `node`'s gateway refuses the device's own credentials (revoked, suspended or quarantined). */
async function deviceRefusedBy(target: DrillTarget, node: DrillNode, stored: StoredCredentials): Promise<boolean> {
  const probe = new GatewayClient({ gatewayUrl: node.gatewayUrl, ca: target.ca });
  try {
    await probe.resume(stored);
    await probe.self();
    return false;
  } catch {
    return true;
  } finally {
    probe.close();
  }
}

/** A stolen device key used from a second connection: the clone opens a command channel beside the real unit. */
export async function stolenDeviceKey(target: DrillTarget, ids: DrillIdentities): Promise<StagedAttack> {
  // The clone connects to another node than the real unit when there is one: the channel registry finds it there.
  const [first, second] = [target.nodes[0]!, target.nodes[1 % target.nodes.length]!];
  const unit = unitsIn(join(target.dataDir, 'factory'), null).find((u) => u.serial === ids.serials[0]);
  if (!unit) throw new Error(`drill unit ${ids.serials[0]} has no factory credentials under ${target.dataDir}`);
  const car = new SimulatedVehicle(unit, { gatewayUrl: first.gatewayUrl, ca: target.ca });
  await car.start();
  const stored = car.gateway.stored();
  const thief = new GatewayClient({ gatewayUrl: second.gatewayUrl, ca: target.ca });
  await thief.resume(stored);
  const { issued } = thief.credentials!;
  const clone = new CommandChannel({
    gateway: thief,
    verifier: new EnvelopeVerifier({
      keys: issued.commandVerificationKeys.keys,
      vehicleId: issued.vehicleId,
      deviceId: issued.deviceId,
      counters: new MemoryCounterStore(),
    }),
    answered: new MemoryAnswerStore(),
    execute: () => ({ result: 'executed', code: null }),
    reconnect: false,
  });
  const attackedAt = performance.now();
  await clone.connect().catch(() => undefined);
  return {
    description: `a second command channel with the certificate of ${unit.serial} (device ${issued.deviceId})`,
    attackedAt,
    asset: { kind: 'devices', id: issued.deviceId },
    refusedBy: (node) => deviceRefusedBy(target, node, stored),
    stop() {
      clone.close();
      thief.close();
      car.stop();
    },
  };
}

/** A stolen owner token (with its proof key) used from another network: a different /24 on the loopback. */
export async function stolenOwnerToken(target: DrillTarget, ids: DrillIdentities): Promise<StagedAttack> {
  const owner = await CarapaceClient.create({
    baseUrl: target.publicBaseUrl,
    ca: target.ca,
    clientId: ids.appClientId,
    redirectUri: 'http://127.0.0.1/callback',
  });
  await owner.login({
    email: ids.owner.email,
    password: ids.owner.password,
    scopes: ['openid', 'vehicle:read_status'],
    totp: () => currentTotp(ids.owner.totp, new Date()),
  });
  await owner.api('GET', '/v1/vehicles');
  const token = owner.tokens!.accessToken;
  const me = await owner.api('GET', '/v1/me');
  const userId = String((me.json as { sub?: unknown } | null)?.sub ?? '');
  if (!userId) throw new Error(`GET /v1/me answered ${me.status} without the user id`);
  // The thief's network: 127.0.1.0/24 is loopback on Linux, and another /24 than the owner's 127.0.0.1.
  const call = (n: DrillNode) =>
    callNode(target, n, { method: 'GET', path: '/v1/vehicles', token, dpop: owner.dpop, localAddress: '127.0.1.77' });
  const attackedAt = performance.now();
  await call(target.nodes[1 % target.nodes.length]!);
  return {
    description: `the owner's access token and proof key replayed from 127.0.1.77 (user ${userId})`,
    attackedAt,
    asset: { kind: 'users', id: userId },
    refusedBy: async (n) => (await call(n)) === 401,
    stop: () => undefined,
  };
}

/** A partner scraping locations: its client reads every granted vehicle's location, again and again. */
export async function partnerScraping(target: DrillTarget, ids: DrillIdentities, rounds = 40): Promise<StagedAttack> {
  const privateJwk = JSON.parse(
    readFileSync(join(target.dataDir, 'demo', `${ids.partnerClientId}.private.jwk.json`), 'utf8'),
  ) as JWK;
  const token = await clientCredentialsToken({
    baseUrl: target.publicBaseUrl,
    ca: target.ca,
    clientId: ids.partnerClientId,
    privateJwk,
    scope: 'vehicle:read_status vehicle:location',
  });
  const read = (n: DrillNode, path: string) =>
    callNode(target, n, { method: 'GET', path, token: token.accessToken, dpop: token.dpop });
  const vehicles = ids.vehicleIds;
  const attackedAt = performance.now();
  for (let r = 0; r < rounds; r++) {
    const n = target.nodes[r % target.nodes.length]!;
    await Promise.all(vehicles.map((v) => read(n, `/v1/vehicles/${v}/location`)));
  }
  return {
    description: `${ids.partnerClientId} read ${rounds * vehicles.length} locations of ${vehicles.length} vehicles`,
    attackedAt,
    asset: { kind: 'clients', id: ids.partnerClientId },
    refusedBy: async (n) => (await read(n, `/v1/vehicles/${vehicles[0]}/location`)) === 401,
    stop: () => undefined,
  };
}

/** Forged telemetry: the unit's TLS credentials, but messages signed with a key that is not its own. */
export async function forgedTelemetry(target: DrillTarget, ids: DrillIdentities): Promise<StagedAttack> {
  const unit = unitsIn(join(target.dataDir, 'factory'), null).find((u) => u.serial === ids.serials[1]);
  if (!unit) throw new Error(`drill unit ${ids.serials[1]} has no factory credentials under ${target.dataDir}`);
  const device = new GatewayClient({ gatewayUrl: target.nodes[0]!.gatewayUrl, ca: target.ca });
  await device.enroll({ cert: unit.factoryCert, key: unit.factoryKey });
  const { issued } = device.credentials!;
  const stranger = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forger = new TelemetrySigner({
    identity: { deviceId: issued.deviceId, vehicleId: issued.vehicleId, swVersion: 'drill', configId: 'drill' },
    privateKeyPem: stranger,
    sequences: new MemorySequenceStore(),
  });
  const attackedAt = performance.now();
  // Two batches with one forged message each: fewer strikes than the telemetry module's own quarantine needs.
  for (const kmh of [212, 248]) await device.sendTelemetry([await forger.sign({ kind: 'speed', kmh })]);
  const stored = device.stored();
  return {
    description: `telemetry of ${unit.serial} (device ${issued.deviceId}) signed with a key that is not the unit's`,
    attackedAt,
    asset: { kind: 'devices', id: issued.deviceId },
    refusedBy: (node) => deviceRefusedBy(target, node, stored),
    stop: () => device.close(),
  };
}
