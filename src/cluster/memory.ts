import { randomUUID } from 'node:crypto';
import { type Cluster, type ReservationResult, WINDOW_MEMBER_LIMIT, type WindowCount } from './adapter.js';

const SWEEP_AT = 100_000;

/** Fixed-window counters in this process (the embedded mode, and the telemetry-rate exception). */
export function createWindowCounters() {
  const windows = new Map<string, { window: number; count: number }>();
  return {
    /** Adds `n` to `key`'s current window. */
    add(key: string, n: number, windowSeconds: number, nowMs: number): WindowCount {
      const size = windowSeconds * 1000;
      const window = Math.floor(nowMs / size);
      let entry = windows.get(key);
      if (!entry || entry.window !== window) {
        entry = { window, count: 0 };
        windows.set(key, entry);
        // Keys that went quiet are dropped when the map grows, never during a burst of one key.
        if (windows.size > SWEEP_AT) for (const [k, e] of windows) if (e.window !== window) windows.delete(k);
      }
      entry.count += n;
      return { count: entry.count, resetInMs: (window + 1) * size - nowMs };
    },
    /** Forgets `key`. */
    delete(key: string): void {
      windows.delete(key);
    },
  };
}

/** The embedded mode: the same primitives in this process's memory. `now` drives TTLs (not windows). */
export function createMemoryCluster(options: { prefix?: string; now?: () => number } = {}): Cluster {
  const now = options.now ?? Date.now;
  const counters = createWindowCounters();
  const events = new Map<string, number[]>();
  // Tickets of admitted events, so one can be withdrawn; single-threaded, so admission is atomic here.
  const tickets = new Map<string, Map<string, number>>();
  const held = new Map<string, { value: string; expires: number }>();
  const handlers = new Map<string, Set<(message: string) => void>>();
  const scored = createScoredWindows(now);

  const recent = (key: string, windowSeconds: number, nowMs: number) => {
    const list = (events.get(key) ?? []).filter((t) => t > nowMs - windowSeconds * 1000);
    if (list.length === 0) events.delete(key);
    else events.set(key, list);
    return list;
  };
  const live = (key: string) => {
    const h = held.get(key);
    if (h && h.expires <= now()) {
      held.delete(key);
      return undefined;
    }
    return h;
  };
  const sweepHeld = () => {
    if (held.size <= SWEEP_AT) return;
    const t = now();
    for (const [k, h] of held) if (h.expires <= t) held.delete(k);
  };

  return {
    kind: 'memory',
    prefix: options.prefix ?? '',
    async countWindow(key, n, windowSeconds, nowMs) {
      return counters.add(key, n, windowSeconds, nowMs);
    },
    async countRecent(key, windowSeconds, nowMs) {
      return recent(key, windowSeconds, nowMs).length;
    },
    async recordEvent(key, windowSeconds, nowMs) {
      events.set(key, [...recent(key, windowSeconds, nowMs), nowMs]);
      if (events.size > SWEEP_AT) for (const k of [...events.keys()]) recent(k, windowSeconds, nowMs);
    },
    async admitEvent(key, limit, windowSeconds, nowMs) {
      const list = recent(key, windowSeconds, nowMs);
      if (list.length >= limit) return null;
      events.set(key, [...list, nowMs]);
      const ticket = randomUUID();
      let held = tickets.get(key);
      if (!held) tickets.set(key, (held = new Map()));
      for (const [t, at] of held) if (at <= nowMs - windowSeconds * 1000) held.delete(t);
      held.set(ticket, nowMs);
      return ticket;
    },
    async withdrawEvent(key, ticket) {
      const at = tickets.get(key)?.get(ticket);
      if (at === undefined) return;
      tickets.get(key)?.delete(ticket);
      const list = events.get(key) ?? [];
      const i = list.indexOf(at);
      if (i >= 0) list.splice(i, 1);
    },
    async forget(key) {
      tickets.delete(key);
      scored.delete(key);
      events.delete(key);
      counters.delete(key);
      held.delete(key);
    },
    async windowAdd(key, member, scoreMs, ttlMs) {
      return scored.add(key, member, scoreMs, ttlMs);
    },
    async windowRange(key, fromMs, toMs, limit) {
      return scored.range(key, fromMs, toMs, limit);
    },
    async windowCount(key, fromMs, toMs) {
      return scored.count(key, fromMs, toMs);
    },
    async reserve(key, value, ttlSeconds): Promise<ReservationResult> {
      const h = live(key);
      if (h) return { reserved: false, holder: h.value };
      sweepHeld();
      held.set(key, { value, expires: now() + ttlSeconds * 1000 });
      return { reserved: true };
    },
    async release(key, value) {
      if (live(key)?.value === value) held.delete(key);
    },
    async renew(key, value, ttlSeconds) {
      const h = live(key);
      if (h?.value !== value) return false;
      h.expires = now() + ttlSeconds * 1000;
      return true;
    },
    async seenOnce(key, ttlSeconds) {
      if (live(`seen:${key}`)) return false;
      sweepHeld();
      held.set(`seen:${key}`, { value: '1', expires: now() + ttlSeconds * 1000 });
      return true;
    },
    async publish(channel, message) {
      // Delivered asynchronously, as Redis would, so a publisher never runs its own handlers re-entrantly.
      for (const h of handlers.get(channel) ?? []) queueMicrotask(() => h(message));
    },
    async subscribe(channel, handler) {
      let set = handlers.get(channel);
      if (!set) handlers.set(channel, (set = new Set()));
      set.add(handler);
    },
    ping: async () => true,
    onReconnect() {},
    async close() {
      handlers.clear();
    },
  };
}

/** Scored windows (sorted sets) in this process; `now` drives the key TTL, the scores are the caller's. */
function createScoredWindows(now: () => number) {
  const windows = new Map<string, { members: Map<string, number>; expires: number }>();
  const live = (key: string) => {
    const w = windows.get(key);
    if (w && w.expires <= now()) windows.delete(key);
    return windows.get(key);
  };
  return {
    add(key: string, member: string, scoreMs: number, ttlMs: number): boolean {
      let w = live(key);
      if (!w) {
        if (windows.size > SWEEP_AT) for (const k of [...windows.keys()]) live(k);
        windows.set(key, (w = { members: new Map(), expires: 0 }));
      }
      w.expires = now() + ttlMs;
      for (const [m, s] of w.members) if (s < scoreMs - ttlMs) w.members.delete(m);
      if (w.members.has(member)) return false;
      w.members.set(member, scoreMs);
      if (w.members.size > WINDOW_MEMBER_LIMIT) {
        let lowest: [string, number] | null = null;
        for (const m of w.members)
          if (!lowest || m[1] < lowest[1] || (m[1] === lowest[1] && m[0] < lowest[0])) lowest = m;
        if (lowest) w.members.delete(lowest[0]);
      }
      return true;
    },
    range(key: string, fromMs: number, toMs: number, limit: number) {
      const w = live(key);
      if (!w) return [];
      return [...w.members]
        .filter(([, s]) => s >= fromMs && s <= toMs)
        .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, Math.min(limit, WINDOW_MEMBER_LIMIT))
        .map(([member, score]) => ({ member, score }));
    },
    count(key: string, fromMs: number, toMs: number): number {
      const w = live(key);
      if (!w) return 0;
      let n = 0;
      for (const s of w.members.values()) if (s >= fromMs && s <= toMs) n++;
      return n;
    },
    delete(key: string): void {
      windows.delete(key);
    },
  };
}
