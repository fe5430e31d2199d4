/**
 * The command-envelope contract as the SDK exposes it. Declared once in src/wire/, which the server's
 * commands module imports too, so the vehicle and the platform cannot disagree about a field.
 */
export {
  type AckClaims,
  AckClaimsSchema,
  canonicalJson,
  COMMAND_SIGNING_EKU,
  type EnvelopeClaims,
  EnvelopeClaimsSchema,
  envelopeHash,
  paramsHash,
  parseCanonical,
  publicKeyFromJwk,
  REFUSAL_CODES,
  type RefusalCode,
  sha256,
  type SignedEnvelope,
  SignedEnvelopeSchema,
  verifyDetached,
} from '../wire/index.js';
