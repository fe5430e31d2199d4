/** What `verify` found wrong; `seq` and `eventId` name the event, `leafIndex` its place in the tree. */
export interface VerifyFinding {
  kind:
    | 'changed'
    | 'removed'
    | 'inserted'
    | 'reordered'
    | 'leaves_rewritten'
    | 'checkpoint_forged'
    | 'checkpoint_missing'
    | 'checkpoint_mismatch'
    | 'checkpoint_root'
    | 'exported_unreadable'
    | 'frontier_forged'
    | 'node_forged'
    | 'prune_forged'
    | 'hold_forged';
  detail: string;
  seq?: number;
  eventId?: string;
  leafIndex?: number;
  treeSize?: number;
}
