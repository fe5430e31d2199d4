import { type Static, Type } from '@sinclair/typebox';

const closed = { additionalProperties: false } as const;

/** A public JWK the vehicle pins to verify command envelopes (Ed25519, with its certificate from our root CA). */
export const CommandVerificationKeySchema = Type.Object(
  {
    kty: Type.String(),
    crv: Type.String(),
    x: Type.String(),
    kid: Type.String(),
    alg: Type.String(),
    use: Type.Literal('sig'),
    /** The key's certificate (base64 DER) with the command-signing EKU: chains the key to our root CA. */
    x5c: Type.Optional(Type.Array(Type.String())),
  },
  closed,
);
/** A pinned command-verification key. */
export type CommandVerificationKey = Static<typeof CommandVerificationKeySchema>;

/**
 * What an enrolled or rotated device receives (`POST /v1/enrollments`, `POST /v1/devices/:id/certificates`):
 * the operational certificate, the chain to pin (fleet CA, then root CA) and the command keys.
 */
export const EnrollmentResultSchema = Type.Object(
  {
    deviceId: Type.String(),
    vehicleId: Type.String(),
    serial: Type.String(),
    certificate: Type.String(),
    /** Issuing chain to pin, leaf-most first: the fleet CA, then the root CA. */
    chain: Type.Array(Type.String()),
    notBefore: Type.String(),
    notAfter: Type.String(),
    commandVerificationKeys: Type.Object({ keys: Type.Array(CommandVerificationKeySchema) }, closed),
  },
  closed,
);
/** The enrollment (and rotation) result: the certificate bundle. */
export type EnrollmentResult = Static<typeof EnrollmentResultSchema>;
