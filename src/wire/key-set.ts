import { type Static, Type } from '@sinclair/typebox';
import { SignedEnvelopeSchema } from './commands.js';
import { CommandVerificationKeySchema } from './enrollment.js';

const closed = { additionalProperties: false } as const;

/**
 * A key-set update, gateway to vehicle: the complete set of command-verification keys the vehicle should trust
 * from now on (keys it held that are not listed are withdrawn), signed by `signerKid`, one of the listed keys.
 * The vehicle takes a key only if its `x5c` certificate chains to the root it trusts with the command-signing
 * EKU, and takes an update only if it is newer (`issuedAt`) than the last one it took.
 */
export const KeySetClaimsSchema = Type.Object(
  {
    v: Type.Literal(1),
    kind: Type.Literal('command-keys'),
    vehicleId: Type.String({ maxLength: 64 }),
    deviceId: Type.String({ maxLength: 64 }),
    signerKid: Type.String({ maxLength: 64 }),
    issuedAt: Type.Integer({ minimum: 0 }),
    keys: Type.Array(CommandVerificationKeySchema, { minItems: 1, maxItems: 8 }),
  },
  closed,
);
/** The claims of a key-set update. */
export type KeySetClaims = Static<typeof KeySetClaimsSchema>;

/** The vehicle's signed receipt of a key-set update: which kids it trusts now. */
export const KeySetReceiptClaimsSchema = Type.Object(
  {
    v: Type.Literal(1),
    kind: Type.Literal('command-keys-receipt'),
    vehicleId: Type.String({ maxLength: 64 }),
    deviceId: Type.String({ maxLength: 64 }),
    issuedAt: Type.Integer({ minimum: 0 }),
    kids: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 8 }),
    at: Type.Integer({ minimum: 0 }),
  },
  closed,
);
/** The claims of a key-set receipt. */
export type KeySetReceiptClaims = Static<typeof KeySetReceiptClaimsSchema>;

/** A key-set update frame (gateway to vehicle). */
export const KeysFrameSchema = Type.Object({ type: Type.Literal('keys'), update: SignedEnvelopeSchema }, closed);
/** A key-set receipt frame (vehicle to gateway), signed with the device key. */
export const KeysReceiptFrameSchema = Type.Object(
  { type: Type.Literal('keys-receipt'), receipt: SignedEnvelopeSchema },
  closed,
);
/** A key-set update frame. */
export type KeysFrame = Static<typeof KeysFrameSchema>;
/** A key-set receipt frame. */
export type KeysReceiptFrame = Static<typeof KeysReceiptFrameSchema>;
