// The console page "findings".
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { html, Listing, ActionButton } from '../ui.js';

/** The findings page. */
export function Findings() {
  const [n, setN] = useState(0);
  const resolve = (f, status) => (reason) =>
    api(`/admin/v1/findings/${f.id}/status`, { method: 'POST', body: { status, reason } });
  const actions = (f) =>
    f.status === 'open' &&
    html`<${ActionButton} label="Resolve" run=${resolve(f, 'resolved')} onDone=${() => setN(n + 1)} />
      <${ActionButton} label="Suppress" run=${resolve(f, 'suppressed')} onDone=${() => setN(n + 1)} />`;
  return html`<section aria-labelledby="h-findings">
    <h2 id="h-findings">Findings and incidents</h2>
    <${Listing}
      path="/admin/v1/findings"
      caption="Findings"
      refresh=${n}
      actions=${actions}
      columns=${['id', 'detection', 'severity', 'status', 'createdAt']}
    />
    <${Listing} path="/admin/v1/incidents?limit=100" caption="Incidents" refresh=${n} />
    <${Listing} path="/admin/v1/playbooks" caption="Playbooks" />
  </section>`;
}
