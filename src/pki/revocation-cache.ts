import type { Kysely } from 'kysely';
import type { Clock } from '../platform/index.js';
import type { Database } from '../storage/index.js';
import type { DeviceStatus } from './tables.js';

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
 * what to re-read from the database, see reloadNamed), and by a periodic reload from the database as the backstop.
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

  constructor(private readonly deps: { db: Kysely<Database>; clock: Clock }) {}

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

  /** Milliseconds since the last full reload, for readiness. */
  age(): number {
    return this.loadedAt === 0 ? Number.POSITIVE_INFINITY : Date.now() - this.loadedAt;
  }

  private emit(change: CredentialChange): void {
    for (const l of this.listeners) l(change);
  }
}
