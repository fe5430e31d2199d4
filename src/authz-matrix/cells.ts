import type { MatrixRoute } from './routes.js';

/** One cell: a persona, an action (route), an object, what the oracle expected and what the server did. */
export interface Cell {
  phase: string;
  persona: string;
  action: string;
  route: string;
  object: string;
  expected: 'allowed' | 401 | 403 | 404;
  /**
   * `unreached`: the probe was stopped by validation (400 ERR_VALIDATION) where the oracle expects an allow, so the
   * cell never showed the real decision. It is reported as unreached, never as passed.
   */
  observed: 'allowed' | 'unreached' | number;
  relations: string[];
  unexpected: boolean;
  unreached: boolean;
  note?: string;
  /** The command a per-command cell sent (`vehicle:command` with this command in the body). */
  command?: string;
}

/** The matrix report: every cell, and the totals a reviewer reads first. */
export interface MatrixReport {
  cells: Cell[];
  summary: {
    cells: number;
    allowed: number;
    denied: number;
    unexpected: number;
    /** Cells whose probe never reached the decision (validation answered first where an allow was due). */
    unreached: number;
    phases: string[];
    routes: number;
    routesReached: number;
    routesMissing: string[];
    unresolved: string[];
  };
}

/** The unknown query parameter that stops an allowed state-changing request at validation, before any effect. */
export const PROBE = 'carapace-matrix-probe=1';

/** A route as the report names it. */
export const routeKey = (r: MatrixRoute) => `${r.method} ${r.path}`;
