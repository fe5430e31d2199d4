/** Job states. Final: rejected, failed, confirmed, expired. */
export const JOB_STATES = [
  'requested',
  'authorized',
  'rejected',
  'queued',
  'delivered',
  'executed',
  'failed',
  'confirmed',
  'expired',
] as const;
/** A job state. */
export type JobState = (typeof JOB_STATES)[number];
/** States a job never leaves. */
export const FINAL_STATES: readonly JobState[] = ['rejected', 'failed', 'confirmed', 'expired'];
/** States a job is still in flight in; queries name them (not "not final") so the state indexes apply. */
export const OPEN_STATES: readonly JobState[] = ['requested', 'authorized', 'queued', 'delivered', 'executed'];

/**
 * One command job: what was asked, by whom, the decision record behind it, and (once dispatched) the exact
 * envelope sent and the vehicle's signed acknowledgement.
 */
export interface CommandJobRow {
  id: string;
  vehicle_id: string;
  device_id: string | null;
  tenant_id: string | null;
  batch_id: string | null;
  command: string;
  params: string;
  params_hash: string;
  requester_id: string;
  client_id: string;
  state: JobState;
  reason: string | null;
  /** After a final state: 'safe' (the vehicle certainly did nothing) or 'unsafe' (it may have acted). */
  retry: string | null;
  decision_record: string;
  decision_hash: string;
  policy_version: string;
  created_at: string;
  expires_at: string;
  updated_at: string;
  counter: number | null;
  kid: string | null;
  envelope_signed: string | null;
  envelope_sig: string | null;
  ack_signed: string | null;
  ack_sig: string | null;
}

/** Every state change of a job, with time, actor and reason (append-only). */
export interface CommandTransitionRow {
  id: string;
  job_id: string;
  /** 1, 2, 3… per job: transitions within one millisecond keep their order. */
  step: number;
  from_state: string | null;
  to_state: string;
  at: string;
  actor: string;
  reason: string;
}

/** An Idempotency-Key reservation: per principal, 24 h, bound to a hash of the request. */
export interface CommandIdempotencyRow {
  principal: string;
  key_hash: string;
  request_hash: string;
  /** The job (single command) or batch (fleet command) the key produced. */
  result_id: string;
  created_at: string;
  expires_at: string;
}

/** The last envelope counter issued per vehicle. */
export interface CommandCounterRow {
  vehicle_id: string;
  counter: number;
}

/** One row per vehicle or tenant (`vehicle:<id>`, `tenant:<id>`), locked while a job is created there. */
export interface CommandLockRow {
  key: string;
}

/** The key set each device last confirmed with a signed receipt (what the rotation guard counts). */
export interface CommandKeyReceiptRow {
  device_id: string;
  vehicle_id: string;
  /** JSON array of the kids the device trusts. */
  kids: string;
  issued_at: number;
  received_at: string;
}

/** Command signing keys (public half only; private keys stay with the key provider). */
export interface CommandKeyRow {
  kid: string;
  public_jwk: string;
  /** 'next' (published, not yet signing), 'current' (signing), 'retired' (no longer published). */
  status: string;
  created_at: string;
  activated_at: string | null;
  retired_at: string | null;
  certificate: string | null;
}

/** The commands module's tables. */
export interface CommandTables {
  command_jobs: CommandJobRow;
  command_transitions: CommandTransitionRow;
  command_idempotency: CommandIdempotencyRow;
  command_counters: CommandCounterRow;
  command_keys: CommandKeyRow;
  command_locks: CommandLockRow;
  command_key_receipts: CommandKeyReceiptRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends CommandTables {}
}
