/**
 * The evaluation kinds, as pure judgements over the members of one window. Each member is one event of the key:
 * its id, its score (occurredAt in ms) and what the kind needs of it (a weight, values, flags, a place).
 */
import type { Evaluation } from './rule.js';
import { parseRuleDuration } from './rule.js';
import { distanceKm, type Place } from './network.js';

/** One event in a window, decoded. */
export interface WindowEntry {
  id: string;
  seq: number;
  at: number;
  /** threshold: weight; distinct/new-value: values; sequence: [first, then]; ratio: numerator 0/1; travel: place. */
  data: unknown;
}

/** What a kind concluded for the current event: fired, with the measured value and the evidence ids. */
export interface Judgement {
  value: number;
  /** The events that made it fire, oldest first. */
  evidence: WindowEntry[];
}

/** How far back a kind reads, in ms (its window). */
export function windowMs(ev: Evaluation): number {
  switch (ev.kind) {
    case 'sequence':
      return parseRuleDuration(ev.within) as number;
    case 'baseline':
      return (parseRuleDuration(ev.bucket) as number) * (ev.history + 1);
    case 'travel':
      return parseRuleDuration(ev.window ?? '24h') as number;
    case 'threshold':
    case 'distinct':
    case 'new-value':
    case 'ratio':
      return parseRuleDuration(ev.window) as number;
  }
}

/** A 17-character VIN (ISO 3779: no I, O or Q). */
const VIN = /^[A-HJ-NPR-Z0-9]{17}$/;

/**
 * The prefix a value's serial is counted under. In a 17-character VIN the 9th character is a check digit computed
 * over the whole VIN (serial included; required in North America), so consecutive real VINs differ there: it is
 * not part of the prefix, or walking real VINs would never form a run.
 */
function prefixOf(value: string, prefix: string): string {
  return VIN.test(value) && prefix.length > 8 ? `${prefix.slice(0, 8)}?${prefix.slice(9)}` : prefix;
}

/** The longest run of values whose trailing digits are consecutive numbers under one equal prefix. */
function sequentialRun(entries: WindowEntry[]): WindowEntry[] {
  const byPrefix = new Map<string, Map<bigint, WindowEntry>>();
  for (const e of entries)
    for (const v of e.data as string[]) {
      const m = /^(.*?)(\d+)$/.exec(v);
      if (!m) continue;
      const prefix = prefixOf(v, m[1] as string);
      const serials = byPrefix.get(prefix) ?? new Map<bigint, WindowEntry>();
      byPrefix.set(prefix, serials);
      if (!serials.has(BigInt(m[2] as string))) serials.set(BigInt(m[2] as string), e);
    }
  let best: WindowEntry[] = [];
  for (const serials of byPrefix.values()) {
    const sorted = [...serials.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let run: WindowEntry[] = [];
    for (const [i, n] of sorted.entries()) {
      run = i > 0 && n === (sorted[i - 1] as bigint) + 1n ? [...run, serials.get(n) as WindowEntry] : [serials.get(n)!];
      if (run.length > best.length) best = run;
    }
  }
  return best;
}

function distinct(entries: WindowEntry[]): { count: number; evidence: WindowEntry[] } {
  const firstOf = new Map<string, WindowEntry>();
  for (const e of entries) for (const v of e.data as string[]) if (!firstOf.has(v)) firstOf.set(v, e);
  return { count: firstOf.size, evidence: ids([...firstOf.values()]) };
}

/** The entries without repeats of one event, oldest first. */
function ids(entries: WindowEntry[]): WindowEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => !seen.has(e.id) && seen.add(e.id)).sort((a, b) => a.at - b.at || a.seq - b.seq);
}

function baseline(ev: Extract<Evaluation, { kind: 'baseline' }>, entries: WindowEntry[], now: WindowEntry) {
  const size = parseRuleDuration(ev.bucket) as number;
  const current = Math.floor(now.at / size);
  const inBucket = entries.filter((e) => Math.floor(e.at / size) === current);
  const before = entries.filter((e) => Math.floor(e.at / size) >= current - ev.history && e.at < current * size);
  const mean = before.length / ev.history;
  const fires = inBucket.length >= ev.minimum && inBucket.length >= ev.factor * mean;
  return fires ? { value: inBucket.length, evidence: ids(inBucket) } : null;
}

function travel(ev: Extract<Evaluation, { kind: 'travel' }>, entries: WindowEntry[], now: WindowEntry) {
  const previous = entries.filter((e) => e.id !== now.id && e.at <= now.at).at(-1);
  if (!previous) return null;
  const km = distanceKm(previous.data as Place, now.data as Place);
  const hours = (now.at - previous.at) / 3_600_000;
  const kmh = km === 0 ? 0 : hours === 0 ? Infinity : km / hours;
  return kmh > ev.maxKmh ? { value: Math.round(Math.min(kmh, 1e9)), evidence: [previous, now] } : null;
}

/**
 * Judges the window for the current event `now` (which is among `entries`, all scored within the kind's window
 * ending at `now.at`, oldest first). Returns what fired, or null. A rule fires at most once per event.
 */
export function judge(ev: Evaluation, entries: WindowEntry[], now: WindowEntry): Judgement | null {
  switch (ev.kind) {
    case 'threshold': {
      const sum = entries.reduce((s, e) => s + (e.data as number), 0);
      return sum >= ev.threshold ? { value: sum, evidence: ids(entries) } : null;
    }
    case 'distinct': {
      if (ev.sequential) {
        const run = sequentialRun(entries);
        return run.length >= ev.threshold ? { value: run.length, evidence: ids(run) } : null;
      }
      const d = distinct(entries);
      return d.count >= ev.threshold ? { value: d.count, evidence: d.evidence } : null;
    }
    case 'new-value': {
      const earlier = entries.filter((e) => e.id !== now.id);
      const seen = new Set(earlier.flatMap((e) => e.data as string[]));
      if (seen.size === 0 || (now.data as string[]).every((v) => seen.has(v))) return null;
      const d = distinct(entries);
      return d.count >= (ev.threshold ?? 2) ? { value: d.count, evidence: d.evidence } : null;
    }
    case 'sequence': {
      if (!(now.data as [boolean, boolean])[1]) return null;
      const firsts = entries.filter((e) => e.id !== now.id && (e.data as [boolean, boolean])[0]);
      return firsts.length > 0 ? { value: firsts.length + 1, evidence: [...ids(firsts), now] } : null;
    }
    case 'ratio': {
      if (now.data !== 1 || entries.length < ev.minimum) return null;
      const hits = entries.filter((e) => e.data === 1);
      const share = hits.length / entries.length;
      return share >= ev.threshold ? { value: Math.round(share * 1000) / 1000, evidence: ids(hits) } : null;
    }
    case 'baseline':
      return baseline(ev, entries, now);
    case 'travel':
      return travel(ev, entries, now);
  }
}
