// The console page "audit".
import { html, useApi, ErrorBox, Listing } from '../ui.js';

/** The audit page. */
export function Audit() {
  const latest = useApi('/admin/v1/audit/checkpoints/latest');
  return html`<section aria-labelledby="h-audit">
    <h2 id="h-audit">Audit trail</h2>
    <h3>Last checkpoint</h3>
    <${ErrorBox} error=${latest.error} />
    ${latest.data && html`<pre tabindex="0">${JSON.stringify(latest.data, null, 2)}</pre>`}
    <${Listing} path="/admin/v1/audit-events" caption="Audit events" />
  </section>`;
}
