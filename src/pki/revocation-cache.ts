import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { DeviceStatus } from './tables.js';

/** Change-log rows re-checked at start, in case one committed after a newer one. */
const RECHECK_AT_START = 1024;
/** Change-log rows read per poll; a longer backlog is read over the next polls. */
const POLL_BATCH = 2000;
/** How long a missing sequence number is waited for before a full reload (PostgreSQL commits out of order). */
const GAP_GRACE_MS = 30_000;
/** Change-log rows kept (pruned at each full reload). */
const LOG_KEPT = 100_000;
/** A backlog with more missing numbers than this is not tracked number by number: a full reload covers it. */
const MAX_TRACKED_GAP = 10_000;

/** A change to credential status that every process must learn about. */
export type CredentialChange =
  | { kind: 'certificates-revoked'; serials: string[]; deviceIds: string[] }
  | { kind: 'certificates-superseded'; serials: string[] }
  | { kind: 'overlap-started'; serial: string; until: string }
  | { kind: 'device-status'; deviceId: string; status: DeviceStatus };

/** What the fast path says about a presented certificate. */
export type CertificateState =
  { state: 'ok' } | { state: 'revoked' } | { state: 'superseded' } | { state: 'overlap'; until: number };

/**
 * The revocation fast path: an in-memory view of every revoked or superseded certificate that has not
 * expired, every certificate in its rotation overlap, and every device that is not active. Checked on every
 * request with no I/O. Kept current by local changes at once, by fan-out across processes (which only names
 * what to re-read from the database, see reloadNamed), by an incremental read of the change log by sequence
 * number (see poll: what bounds propagation without Redis), and by a rare full reload as the backstop.
 */
export class RevocationCache {
  private revoked = new Set<string>();
  private superseded = new Set<string>();
  private overlapUntil = new Map<string, number>();
  private devices = new Map<string, DeviceStatus>();
  private readonly listeners = new Set<(change: CredentialChange) => void>();
  private loadedAt = 0;
  /** Changes applied while a reload is reading (one log per reload in flight); replayed so none is lost. */
  private readonly inFlight = new Set<CredentialChange[]>();

  /** Every change-log row with seq <= floor is applied (or was judged a rolled-back gap). */
  private floor: number | null = null;
  /** Applied change-log rows above the floor. */
  private readonly above = new Set<number>();
  /** Sequence numbers missing above the floor, with when they were first missed (PostgreSQL commit order). */
  private readonly gaps = new Map<number, number>();
  private polling: Promise<void> | null = null;

  constructor(private readonly deps: { db: Kysely<Database>; clock: Clock; gapGraceMs?: number }) {}

  /** Reloads the whole view from the database. */
  async refresh(): Promise<void> {
    const log: CredentialChange[] = [];
    this.inFlight.add(log);
    try {
      await this.reload(log);
    } finally {
      this.inFlight.delete(log);
    }
  }

  private async reload(log: CredentialChange[]): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    if (this.floor === null) {
      // A change committed out of order just before start may sit below the newest row: re-check a recent window.
      const last = await this.deps.db
        .selectFrom('credential_changes')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .executeTakeFirst();
      this.floor = Math.max(0, Number(last?.seq ?? 0) - RECHECK_AT_START);
    } else await this.prune();
    const certs = await this.deps.db
      .selectFrom('certificates')
      .select(['serial', 'status', 'overlap_until', 'device_id'])
      .where('not_after', '>', now)
      .where((eb) => eb.or([eb('status', '!=', 'active'), eb('overlap_until', 'is not', null)]))
      .execute();
    const devices = await this.deps.db
      .selectFrom('devices')
      .select(['id', 'status'])
      .where('status', 'in', ['quarantined', 'revoked', 'decommissioned'])
      .execute();
    const revoked = new Set<string>();
    const superseded = new Set<string>();
    const overlap = new Map<string, number>();
    for (const c of certs) {
      if (c.status === 'revoked') revoked.add(c.serial);
      else if (c.status === 'superseded') superseded.add(c.serial);
      else if (c.overlap_until) overlap.set(c.serial, Date.parse(c.overlap_until));
    }
    const newlyRevoked = [...revoked].filter((s) => !this.revoked.has(s));
    const newlySuperseded = [...superseded].filter((s) => !this.superseded.has(s));
    const blockedDevices = devices.filter((d) => this.devices.get(d.id) !== d.status);
    this.revoked = revoked;
    this.superseded = superseded;
    this.overlapUntil = overlap;
    this.devices = new Map(devices.map((d) => [d.id, d.status]));
    // A change committed and applied after our reads started may be missing from what we read: apply it again.
    for (const change of log) this.update(change);
    this.loadedAt = Date.now();
    // Tell listeners (the gateway closes connections) about what another process changed.
    if (newlyRevoked.length > 0) this.emit({ kind: 'certificates-revoked', serials: newlyRevoked, deviceIds: [] });
    if (newlySuperseded.length > 0) this.emit({ kind: 'certificates-superseded', serials: newlySuperseded });
    for (const d of blockedDevices) this.emit({ kind: 'device-status', deviceId: d.id, status: d.status });
  }

  /**
   * Re-reads the named certificates and devices from the database and applies what changed: how another
   * process's announcement is taken in. The message only names rows; their state always comes from the database,
   * so a forged message changes nothing. Changes applied here during the read are replayed after it, as in refresh().
   */
  async reloadNamed(names: { serials: string[]; deviceIds: string[] }): Promise<void> {
    const log: CredentialChange[] = [];
    this.inFlight.add(log);
    try {
      const certs =
        names.serials.length === 0
          ? []
          : await this.deps.db
              .selectFrom('certificates')
              .select(['serial', 'status', 'overlap_until', 'device_id'])
              .where('serial', 'in', names.serials)
              .execute();
      const devices =
        names.deviceIds.length === 0
          ? []
          : await this.deps.db
              .selectFrom('devices')
              .select(['id', 'status'])
              .where('id', 'in', names.deviceIds)
              .execute();
      const changes: CredentialChange[] = [];
      for (const c of certs) {
        if (c.status === 'revoked' && !this.revoked.has(c.serial))
          changes.push({
            kind: 'certificates-revoked',
            serials: [c.serial],
            deviceIds: c.device_id ? [c.device_id] : [],
          });
        else if (c.status === 'superseded' && !this.superseded.has(c.serial))
          changes.push({ kind: 'certificates-superseded', serials: [c.serial] });
        else if (
          c.status === 'active' &&
          c.overlap_until &&
          this.overlapUntil.get(c.serial) !== Date.parse(c.overlap_until)
        )
          changes.push({ kind: 'overlap-started', serial: c.serial, until: c.overlap_until });
      }
      for (const d of devices) {
        const blocked = d.status === 'quarantined' || d.status === 'revoked' || d.status === 'decommissioned';
        if (blocked ? this.devices.get(d.id) !== d.status : this.devices.has(d.id))
          changes.push({ kind: 'device-status', deviceId: d.id, status: d.status });
      }
      for (const change of changes) this.apply(change);
      // A change made here after our reads started is newer than what we read: apply it again.
      for (const change of log) this.update(change);
    } finally {
      this.inFlight.delete(log);
    }
  }

  /** Keeps the change log bounded; a node too far behind to find its rows reloads in full (see advance). */
  private async prune(): Promise<void> {
    const last = await this.deps.db
      .selectFrom('credential_changes')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .executeTakeFirst();
    const keepFrom = Number(last?.seq ?? 0) - LOG_KEPT;
    if (keepFrom > 0) await this.deps.db.deleteFrom('credential_changes').where('seq', '<', keepFrom).execute();
  }

  /**
   * Reads the change log past what this view has applied and re-reads the rows it names (as reloadNamed does, so
   * the log, like a fan-out message, only says where to look). On PostgreSQL sequence numbers are taken before
   * commit, so a missing number may still commit: it is waited for, and one missing longer than GAP_GRACE_MS
   * (a rolled-back change, or a log pruned under a node that fell far behind) causes a full reload.
   */
  async poll(): Promise<void> {
    if (this.floor === null) return this.refresh();
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = null;
    });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const floor = this.floor as number;
    const rows = await this.deps.db
      .selectFrom('credential_changes')
      .select(['seq', 'serial', 'device_id'])
      .where('seq', '>', floor)
      .orderBy('seq')
      .limit(POLL_BATCH)
      .execute();
    const fresh = rows.filter((r) => !this.above.has(Number(r.seq)));
    const serials = [...new Set(fresh.flatMap((r) => (r.serial ? [r.serial] : [])))];
    const deviceIds = [...new Set(fresh.flatMap((r) => (r.device_id ? [r.device_id] : [])))];
    if (serials.length > 0 || deviceIds.length > 0) await this.reloadNamed({ serials, deviceIds });
    for (const r of fresh) this.above.add(Number(r.seq));
    if (this.advance(floor, rows.length > 0 ? Number(rows[rows.length - 1]?.seq) : floor)) await this.refresh();
    this.loadedAt = Date.now();
  }

  /** Moves the floor over applied rows and expired gaps; true when a gap expired (a full reload is due). */
  private advance(floor: number, highest: number): boolean {
    const now = Date.now();
    if (highest - floor > MAX_TRACKED_GAP) {
      this.floor = highest;
      this.above.clear();
      this.gaps.clear();
      return true;
    }
    for (let s = floor + 1; s <= highest; s++) if (!this.above.has(s) && !this.gaps.has(s)) this.gaps.set(s, now);
    let expired = false;
    let f = floor;
    for (;;) {
      const next = f + 1;
      if (this.above.delete(next)) f = next;
      else if (this.gaps.has(next) && now - (this.gaps.get(next) as number) >= (this.deps.gapGraceMs ?? GAP_GRACE_MS)) {
        this.gaps.delete(next);
        expired = true;
        f = next;
      } else break;
    }
    for (const s of this.gaps.keys()) if (s <= f) this.gaps.delete(s);
    this.floor = f;
    return expired;
  }

  /** Applies a change made here or announced by another process, and notifies listeners. */
  apply(change: CredentialChange): void {
    for (const log of this.inFlight) log.push(change);
    this.update(change);
    this.emit(change);
  }

  private update(change: CredentialChange): void {
    switch (change.kind) {
      case 'certificates-revoked':
        for (const s of change.serials) {
          this.revoked.add(s);
          this.overlapUntil.delete(s);
        }
        break;
      case 'certificates-superseded':
        for (const s of change.serials) {
          this.superseded.add(s);
          this.overlapUntil.delete(s);
        }
        break;
      case 'overlap-started':
        this.overlapUntil.set(change.serial, Date.parse(change.until));
        break;
      case 'device-status':
        if (change.status === 'active' || change.status === 'provisioned') this.devices.delete(change.deviceId);
        else this.devices.set(change.deviceId, change.status);
        break;
    }
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: (change: CredentialChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The fast-path state of a certificate serial. */
  certificate(serial: string): CertificateState {
    if (this.revoked.has(serial)) return { state: 'revoked' };
    if (this.superseded.has(serial)) return { state: 'superseded' };
    const until = this.overlapUntil.get(serial);
    return until === undefined ? { state: 'ok' } : { state: 'overlap', until };
  }

  /** The status of a device if it is blocked (quarantined, revoked, decommissioned), else null. */
  blockedDevice(deviceId: string): DeviceStatus | null {
    return this.devices.get(deviceId) ?? null;
  }

  /** Milliseconds since the view was last brought up to date (a full reload or a poll), for readiness. */
  age(): number {
    return this.loadedAt === 0 ? Number.POSITIVE_INFINITY : Date.now() - this.loadedAt;
  }

  private emit(change: CredentialChange): void {
    for (const l of this.listeners) l(change);
  }
}
