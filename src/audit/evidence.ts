import type { Kysely } from 'kysely';
import type { Clock, Logger } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { AuditAuditEvent } from './audit-events.js';
import { type AuditHolds, createAuditHolds } from './holds.js';
import { type AuditProofs, createAuditProofs } from './proofs.js';
import { type AuditRetention, createAuditRetention } from './retention.js';
import { type AuditSealer, createAuditSealer } from './sealer.js';
import { type AuditKeyHolder, loadAuditSigner } from './signing-key.js';
import { createAuditLog } from './store.js';
import { type AuditTailPage, tailAuditEvents } from './tail.js';

/** Settings of the evidence layer (from `audit.*` in the configuration). */
export interface AuditEvidenceSettings {
  /** Seconds between seal-and-sign runs. */
  checkpointInterval: number;
  /** Seconds an event must be old before the periodic sealer takes it, so seq order and tree order agree. */
  sealSettle: number;
  /** Where each checkpoint is appended as a JSON line; null: not exported. */
  checkpointFile: string | null;
  /** Days events are kept (0: forever) and seconds between prunes; absent: retention off. */
  retention?: { days: number; interval: number };
}

/** The audit trail's evidence: the sealer, the proofs and the public key that verifies the checkpoints. */
export interface AuditEvidence {
  sealer: AuditSealer;
  proofs: AuditProofs;
  /** Legal holds, which pruning never passes. */
  holds: AuditHolds;
  /** Pruning by `audit.retention`, keeping checkpoints and the nodes proofs need. */
  retention: AuditRetention;
  publicKey: { keyId: string; pem: string };
  /** Sealed events in tree order after a leaf index (-1: from the start): a cursor that never skips. */
  tail(afterLeaf: number, limit: number): Promise<AuditTailPage>;
  /** Starts the periodic sealer and, when retention is on, the periodic pruner. */
  start(): void;
  stop(): Promise<void>;
}

/** Creates the evidence layer over the audit tables, with the signing key from the key provider. */
export async function createAuditEvidence(deps: {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  keys: AuditKeyHolder;
  /** The directory of the file key provider, where the public half is written beside the private one. */
  keyDir: string;
  settings: AuditEvidenceSettings;
  /** The first leaf a consumer of the trail (the SIEM export) still needs: retention never prunes from it on. */
  keepFrom?: () => Promise<number | null>;
}): Promise<AuditEvidence> {
  const signer = await loadAuditSigner({ keys: deps.keys, keyDir: deps.keyDir });
  const sealer = createAuditSealer({
    db: deps.db,
    clock: deps.clock,
    log: deps.log,
    signer,
    settleSeconds: deps.settings.sealSettle,
    checkpointFile: deps.settings.checkpointFile,
  });
  const audit = createAuditLog<AuditAuditEvent>({ db: deps.db, clock: deps.clock });
  const retention = createAuditRetention({
    db: deps.db,
    clock: deps.clock,
    log: deps.log,
    audit,
    signer,
    settings: deps.settings.retention ?? { days: 0, interval: 3600 },
    keepFrom: () => deps.keepFrom?.() ?? Promise.resolve(null),
  });
  return {
    sealer,
    proofs: createAuditProofs({ db: deps.db }),
    holds: createAuditHolds({ db: deps.db, audit, clock: deps.clock, signer }),
    retention,
    publicKey: { keyId: signer.keyId, pem: signer.publicKeyPem },
    tail: (afterLeaf, limit) => tailAuditEvents(deps.db, afterLeaf, limit),
    start() {
      sealer.start(deps.settings.checkpointInterval);
      retention.start();
    },
    async stop() {
      await retention.stop();
      await sealer.stop();
    },
  };
}
