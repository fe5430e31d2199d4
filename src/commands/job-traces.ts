/** At most this many jobs' trace contexts are kept per node; the oldest go first (a trace may then end early). */
const LIMIT = 10_000;

/**
 * The W3C trace context of each job in flight on this node: the span its next step (dispatch, acknowledgement)
 * is a child of. Held in memory only: a trace is observability, and a job whose context is gone (a restart, the
 * limit) is still delivered, in a trace of its own.
 */
export function createJobTraces() {
  const parents = new Map<string, string>();
  return {
    get: (jobId: string): string | null => parents.get(jobId) ?? null,
    set(jobId: string, traceparent: string): void {
      parents.delete(jobId);
      parents.set(jobId, traceparent);
      if (parents.size > LIMIT) parents.delete(parents.keys().next().value as string);
    },
    delete: (jobId: string): void => void parents.delete(jobId),
  };
}
