import { hostname } from 'node:os';
import { canonicalJson, sha256 } from '../wire/index.js';
import type { StateSnapshot } from './vehicle-safety.js';

/**
 * Every link of the authorization chain behind one job, as decided at request time. Its RFC 8785 hash goes
 * into the envelope, so the vehicle's acknowledgement is bound to the exact decision that sent it.
 */
export interface DecisionRecord {
  application: { clientId: string };
  user: { id: string; acr: string | null; authTime: number | null; stepUp: 'required_and_met' | 'not_required' };
  relationship: Array<{ kind: string; id: string }>;
  role: string[];
  scope: { required: string; granted: boolean; via: string };
  command: { name: string; risk: string; paramsHash: string; ttlSeconds: number };
  vehicleState: StateSnapshot;
  policy: { version: string; permits: string[] };
  backendService: { service: 'carapace-commands'; instance: string };
  decidedAt: string;
}

const INSTANCE = `${hostname()}:${process.pid}`;

/** The instance name recorded as the backend service that decided. */
export const backendInstance = (): string => INSTANCE;

/** The record's hash (SHA-256 of its canonical JSON, base64url). */
export function decisionHash(record: DecisionRecord): string {
  return sha256(canonicalJson(record));
}
