// The console page "overview".
import { Chart } from '../chart.js';
import { html, useApi, rowsOf, ErrorBox, Listing } from '../ui.js';

/** The overview page. */
export function Overview() {
  const gov = useApi('/admin/v1/governance');
  const findings = useApi('/admin/v1/findings');
  const bySeverity = {};
  for (const f of rowsOf(findings.data))
    if (f.status === 'open') bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
  return html`<section aria-labelledby="h-overview">
    <h2 id="h-overview">Overview</h2>
    <h3>Open findings by severity</h3>
    <${ErrorBox} error=${findings.error} />
    <${Chart} label="Open findings by severity" labels=${Object.keys(bySeverity)} values=${Object.values(bySeverity)} />
    <h3>Incidents</h3>
    <${Listing} path="/admin/v1/incidents?limit=100" caption="Incidents" />
    <h3>Governance metrics</h3>
    <${ErrorBox} error=${gov.error} />
    ${gov.data && html`<pre tabindex="0">${JSON.stringify(gov.data, null, 2)}</pre>`}
  </section>`;
}
