import { type KeyObject, verify } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Selectable } from 'kysely';
import { canonicalJson } from '../wire/index.js';
import type { AuditCheckpointRow } from './tables.js';

/** Names what a checkpoint signature is over, so it can never be mistaken for another Carapace signature. */
export const CHECKPOINT_ORIGIN = 'carapace-audit-checkpoint/v1';

/** A signed tree head: the RFC 6962 root over the first `treeSize` events, signed by the audit key. */
export interface Checkpoint {
  treeSize: number;
  /** Hex. */
  rootHash: string;
  signedAt: string;
  keyId: string;
  /** Ed25519 over `checkpointBody(…)`, base64url. */
  signature: string;
}

/** The exact bytes that are signed: canonical JSON of the origin and every field but the signature. */
export function checkpointBody(c: Omit<Checkpoint, 'signature'>): string {
  return canonicalJson({
    origin: CHECKPOINT_ORIGIN,
    treeSize: c.treeSize,
    rootHash: c.rootHash,
    signedAt: c.signedAt,
    keyId: c.keyId,
  });
}

/** True when the checkpoint is signed by one of `keys` (by key id) and the signature covers its fields. */
export function checkpointSignatureValid(c: Checkpoint, keys: ReadonlyMap<string, KeyObject>): boolean {
  const key = keys.get(c.keyId);
  if (!key) return false;
  try {
    return verify(null, Buffer.from(checkpointBody(c), 'utf8'), key, Buffer.from(c.signature, 'base64url'));
  } catch {
    return false;
  }
}

/** A stored checkpoint row as a checkpoint. */
export function checkpointFromRow(r: Selectable<AuditCheckpointRow>): Checkpoint {
  return {
    treeSize: r.tree_size,
    rootHash: r.root_hash,
    signedAt: r.signed_at,
    keyId: r.key_id,
    signature: r.signature,
  };
}

/** Appends one checkpoint as a JSON line and flushes it to disk: the copy a DBA cannot rewrite. */
export function appendCheckpointFile(path: string, c: Checkpoint): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, 'a', 0o644);
  try {
    writeSync(fd, `${JSON.stringify(c)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** One line of an exported checkpoint file: the checkpoint, or why the line could not be read. */
export type ExportedLine = { line: number; checkpoint: Checkpoint } | { line: number; error: string };

const isCheckpoint = (v: unknown): v is Checkpoint => {
  const c = v as Partial<Checkpoint> | null;
  return (
    !!c &&
    Number.isSafeInteger(c.treeSize) &&
    (c.treeSize ?? -1) >= 0 &&
    [c.rootHash, c.signedAt, c.keyId, c.signature].every((f) => typeof f === 'string')
  );
};

/** Reads an exported checkpoint file (missing file: no lines). */
export function readCheckpointFile(path: string): ExportedLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((text, i) => ({ text, line: i + 1 }))
    .filter(({ text }) => text.trim() !== '')
    .map(({ text, line }): ExportedLine => {
      try {
        const value: unknown = JSON.parse(text);
        return isCheckpoint(value) ? { line, checkpoint: value } : { line, error: 'not a checkpoint' };
      } catch {
        return { line, error: 'not JSON' };
      }
    });
}
