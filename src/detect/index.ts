/**
 * The detection module's public surface. For now only its contracts (types.ts): the incidents module and the SIEM
 * mapping import them from here, the one door of the module.
 */
export {
  ASSET_LIMIT,
  EVIDENCE_LIMIT,
  SEVERITIES,
  type AssetKind,
  type Finding,
  type FindingAssets,
  type FindingStatus,
  type Severity,
} from './types.js';
