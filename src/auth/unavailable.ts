import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { isCarapaceError, isDatabaseUnavailable, type Logger } from '../platform/index.js';

/** Seconds a client is told to wait when a dependency of the authorization server did not answer. */
const RETRY_AFTER_SECONDS = 5;
const CAUGHT = Symbol('carapace.unavailable');

/** The Retry-After for an error that means "a dependency could not answer", or null for any other error. */
function retryAfterOf(err: unknown): number | null {
  if (isDatabaseUnavailable(err)) return RETRY_AFTER_SECONDS;
  if (isCarapaceError(err) && err.status === 503) {
    const hint = err.context.retryAfter;
    return typeof hint === 'number' && hint > 0 ? hint : RETRY_AFTER_SECONDS;
  }
  return null;
}

/**
 * oidc-provider answers every error it did not raise itself as 500 `server_error`. A database or cluster store that
 * did not answer is not a server bug, and a client should retry rather than give up: such an error is answered 503
 * `temporarily_unavailable` with `Retry-After`, on every endpoint of the authorization server (token, authorization,
 * revocation, the sign-in pages), as the API answers 503 ERR_DATABASE_UNAVAILABLE. Nothing is issued: the endpoint
 * failed before it could finish, and that stays so.
 */
export function answerUnavailableAs503(provider: Provider, log: Logger): void {
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: unknown) => {
    if (retryAfterOf(err) !== null) (ctx.state as Record<symbol, unknown>)[CAUGHT] = err;
  });
  provider.use(async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    await next();
    const err = (ctx.state as Record<symbol, unknown>)[CAUGHT];
    const retryAfter = err === undefined ? null : retryAfterOf(err);
    if (retryAfter === null || ctx.status !== 500) return;
    log.error({ path: ctx.path }, 'a dependency of the authorization server is unavailable; answered 503');
    ctx.status = 503;
    ctx.set('retry-after', String(retryAfter));
    const out = { error: 'temporarily_unavailable', error_description: 'the service is unavailable; retry shortly' };
    if (ctx.type === 'text/html')
      ctx.body =
        `<!doctype html><meta charset="utf-8"><title>Sign-in unavailable</title><h1>Sign-in unavailable</h1>` +
        `<p>${out.error_description}</p>`;
    else ctx.body = out;
  });
}
