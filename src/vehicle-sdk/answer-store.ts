import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SignedEnvelope } from '../wire/index.js';

/**
 * Where a vehicle keeps the acknowledgements it signed, by envelope hash, so an envelope re-sent after a restart
 * gets the answer it already got instead of a second execution (or a `replayed` refusal for a command it did run).
 */
export interface AnswerStore {
  get(envelopeHash: string): SignedEnvelope | null;
  put(envelopeHash: string, ack: SignedEnvelope): void;
}

/** How many answers are kept: far more than the envelopes that can be in flight within their 60 s lifetime. */
const KEPT = 256;

/** Answers in memory: only for tests and simulators that choose it explicitly (a restart forgets them). */
export class MemoryAnswerStore implements AnswerStore {
  private readonly answers = new Map<string, SignedEnvelope>();
  /** The answer to an envelope, if one was sent. */
  get(envelopeHash: string): SignedEnvelope | null {
    return this.answers.get(envelopeHash) ?? null;
  }
  /** Records an answer; the oldest go first past the limit. */
  put(envelopeHash: string, ack: SignedEnvelope): void {
    this.answers.set(envelopeHash, ack);
    if (this.answers.size > KEPT) this.answers.delete(this.answers.keys().next().value as string);
  }
}

/** Answers in a small JSON file, written, fsynced and renamed over the old one before the ack goes out. */
export class FileAnswerStore implements AnswerStore {
  constructor(private readonly file: string) {}

  private load(): Array<[string, SignedEnvelope]> {
    try {
      const v = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      return Array.isArray(v)
        ? v.filter(
            (e): e is [string, SignedEnvelope] =>
              Array.isArray(e) &&
              typeof e[0] === 'string' &&
              typeof (e[1] as Partial<SignedEnvelope> | null)?.signed === 'string' &&
              typeof (e[1] as Partial<SignedEnvelope> | null)?.sig === 'string',
          )
        : [];
    } catch {
      return [];
    }
  }

  /** The answer to an envelope, if one was stored. */
  get(envelopeHash: string): SignedEnvelope | null {
    return this.load().find(([h]) => h === envelopeHash)?.[1] ?? null;
  }

  /** Stores an answer durably; the oldest go first past the limit. */
  put(envelopeHash: string, ack: SignedEnvelope): void {
    const entries = [...this.load().filter(([h]) => h !== envelopeHash), [envelopeHash, ack] as const].slice(-KEPT);
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(entries));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
