/** Per sink, the last audit leaf the sink durably holds: where the exporter resumes, on any node. */
export interface SiemCursorRow {
  sink: string;
  /** Last leaf index delivered (-1: none yet). Only ever moves forward. */
  leaf_index: number;
  updated_at: string;
  /** The node (lease token) that last advanced it, for operators reading the table. */
  node: string;
}

/** Tables owned by the SIEM export module. */
export interface SiemTables {
  siem_cursors: SiemCursorRow;
}

declare module '../storage/index.js' {
  /** This module's tables, as part of the one database every module shares (each touches only its own). */
  interface Database extends SiemTables {}
}
