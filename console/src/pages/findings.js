// The console page "findings": triage findings, pick an incident, and work it (console/src/pages/incident.js).
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { html, Listing, ActionButton, useNeed } from '../ui.js';
import { Incident } from './incident.js';

/** The findings and incidents page. */
export function Findings() {
  const [n, setN] = useState(0);
  const [incidentId, setIncidentId] = useState(null);
  const need = useNeed();
  const refresh = () => setN(n + 1);
  const setStatus = (f, status) => (reason) =>
    api(`/admin/v1/findings/${f.id}/status`, { method: 'POST', body: { status, reason } });
  const findingActions = (f) =>
    html`${
      f.incidentId &&
      html`<button type="button" onClick=${() => setIncidentId(f.incidentId)}>Incident of ${f.ruleId}</button>`
    }
    ${
      f.status === 'open' &&
      html`<${ActionButton}
          label="Resolve"
          run=${setStatus(f, 'resolved')}
          onDone=${refresh}
          need=${need('detect:update_finding')}
        />
        <${ActionButton}
          label="Suppress"
          run=${setStatus(f, 'suppressed')}
          onDone=${refresh}
          need=${need('detect:update_finding')}
        />`
    }`;
  const incidentActions = (i) =>
    html`<button type="button" onClick=${() => setIncidentId(i.id)} aria-label=${`Open incident ${i.title}`}>
      Open
    </button>`;
  return html`<section aria-labelledby="h-findings">
    <h2 id="h-findings">Findings and incidents</h2>
    <${Listing}
      path="/admin/v1/findings"
      caption="Findings"
      refresh=${n}
      actions=${findingActions}
      columns=${['ruleId', 'severity', 'status', 'title', 'count', 'lastSeen']}
    />
    <${Listing}
      path="/admin/v1/incidents?limit=100"
      caption="Incidents"
      refresh=${n}
      actions=${incidentActions}
      columns=${['title', 'severity', 'state', 'owner', 'openedBy', 'openedAt']}
    />
    ${incidentId && html`<${Incident} key=${incidentId} id=${incidentId} onChange=${refresh} />`}
  </section>`;
}
