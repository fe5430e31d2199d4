/**
 * Every table of the platform. Storage itself knows none of them: each module adds its own tables to this interface
 * from its `tables.ts` (declaration merging), so storage imports no module and the schema still types every query.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by the modules (see above)
export interface Database {}
