import { parseCanonical, sha256 } from '../src/vehicle-sdk/index.js';

export {
  CommandChannel,
  EnvelopeVerifier,
  GatewayClient,
  MemoryAnswerStore,
  MemoryCounterStore,
  paramsHash,
  signAck,
  VehicleModel,
  type AckClaims,
} from '../src/vehicle-sdk/index.js';

/** The counter and hash of a captured envelope, as a device computes them for its acknowledgement. */
export function parseCanonicalForTests(signed: string): { counter: number; hash: string } {
  const claims = parseCanonical(signed) as { counter: number };
  return { counter: claims.counter, hash: sha256(signed) };
}
