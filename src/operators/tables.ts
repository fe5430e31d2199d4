/** The operator roles of the admin plane: each a set of admin actions decided by policies/admin.cedar. */
export const OPERATOR_ROLES = ['viewer', 'responder', 'pki_officer', 'security_admin'] as const;
/** One operator role. */
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** An operator: a person (an identity-module user) or an automation certificate, with its roles. */
export interface OperatorRow {
  id: string;
  name: string;
  kind: 'person' | 'certificate';
  /** The person's user id (kind person), null for a certificate. */
  user_id: string | null;
  /** The certificate's serial (kind certificate), null for a person. */
  certificate_serial: string | null;
  /** JSON array of OperatorRole; a certificate holds exactly one. */
  roles: string;
  created_at: string;
  disabled_at: string | null;
}

/** A console session: its id is random and only its SHA-256 is stored. */
export interface OperatorSessionRow {
  id_hash: string;
  operator_id: string;
  /** The person's credential epoch at sign-in: a password change, MFA reset or "end sessions" moves it. */
  credential_epoch: number;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ended_at: string | null;
  end_reason: string | null;
}

/** A just-in-time elevation of a person's session. */
export interface OperatorElevationRow {
  id: string;
  operator_id: string;
  session_hash: string;
  reason: string;
  started_at: string;
  until: string;
  ended_at: string | null;
}

/** A request for a fleet-wide action and, once given, a second operator's approval of it. */
export interface OperatorApprovalRow {
  id: string;
  action: string;
  reason: string;
  requested_by: string;
  requested_at: string;
  approved_by: string | null;
  approved_at: string | null;
  expires_at: string;
  used_at: string | null;
}

/** A sign-in in progress: the PKCE verifier, keyed by the hash of the state the browser carries. */
export interface OperatorSignInRow {
  state_hash: string;
  code_verifier: string;
  expires_at: string;
}

/** The operators module's tables. */
export interface OperatorTables {
  operators: OperatorRow;
  operator_sessions: OperatorSessionRow;
  operator_elevations: OperatorElevationRow;
  operator_approvals: OperatorApprovalRow;
  operator_sign_ins: OperatorSignInRow;
}

declare module '../storage/index.js' {
  interface Database extends OperatorTables {}
}
