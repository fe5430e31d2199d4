import { escapeHtml } from './provider.js';

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}label,input,button{display:block;width:100%;margin:.4rem 0}input,button{padding:.5rem;font-size:1rem}.error{color:#a00}.scopes li{margin:.2rem 0}';

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

/** The sign-in page: email, password and (for accounts with MFA) a one-time code. */
export function loginPage(args: { uid: string; clientName: string; error?: string; email?: string }): string {
  return page(
    'Sign in to Carapace',
    `
<p>to continue to <strong>${escapeHtml(args.clientName)}</strong></p>
${args.error ? `<p class="error" role="alert">${escapeHtml(args.error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(args.uid)}/login" autocomplete="on">
  <label for="email">Email</label><input id="email" name="email" type="email" required value="${escapeHtml(args.email ?? '')}" autocomplete="username">
  <label for="password">Password</label><input id="password" name="password" type="password" required autocomplete="current-password">
  <label for="totp">One-time code (if your account uses one)</label><input id="totp" name="totp" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code">
  <button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${escapeHtml(args.uid)}/abort"><button type="submit">Cancel</button></form>`,
  );
}

/** The consent page: which application asks for which scopes. */
export function consentPage(args: { uid: string; clientName: string; scopes: string[] }): string {
  return page(
    'Allow access?',
    `
<p><strong>${escapeHtml(args.clientName)}</strong> asks to:</p>
<ul class="scopes">${args.scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('')}</ul>
<form method="post" action="/interaction/${escapeHtml(args.uid)}/confirm"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${escapeHtml(args.uid)}/abort"><button type="submit">Deny</button></form>`,
  );
}
