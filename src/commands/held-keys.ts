import { CarapaceError } from '../platform/index.js';
import type { Idempotency } from './idempotency.js';

/** How a request waits for the result of a key another request holds: 200 looks, 25 ms apart. */
const LOOKS = 200;
const LOOK_EVERY_MS = 25;

async function waitFor<T>(find: () => Promise<T | null>): Promise<T | null> {
  for (let i = 0; i < LOOKS; i++) {
    const found = await find();
    if (found) return found;
    await new Promise((r) => setTimeout(r, LOOK_EVERY_MS));
  }
  return null;
}

/**
 * What a request does with an Idempotency-Key another request holds: the same request gets the holder's result
 * (`find` looks it up); a different one is refused. When the result never appears and the reservation is older
 * than the reclaim delay, its process died between the two commits: this request takes the key over (`reclaimed`)
 * and makes the result itself. A holder still within the delay answers 409 "still being processed".
 */
export async function resolveHeldKey<T>(args: {
  idempotency: Pick<Idempotency, 'reclaim'>;
  principal: string;
  keyHash: string;
  requestHash: string;
  held: { resultId: string; requestHash: string };
  /** The id this request would give its own result. */
  resultId: string;
  find: (holderId: string) => Promise<T | null>;
}): Promise<{ result: T } | { reclaimed: true }> {
  let held = args.held;
  for (let round = 0; round < 2; round++) {
    if (held.requestHash !== args.requestHash)
      throw new CarapaceError('ERR_IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request');
    const holderId = held.resultId;
    const found = await waitFor(() => args.find(holderId));
    if (found) return { result: found };
    const again = await args.idempotency.reclaim(
      args.principal,
      args.keyHash,
      args.requestHash,
      holderId,
      args.resultId,
    );
    if (again.mine) return { reclaimed: true };
    held = again;
  }
  throw new CarapaceError('ERR_CONFLICT', 'a request with this Idempotency-Key is still being processed');
}
