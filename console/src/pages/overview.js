// The console page "overview": open findings, incidents, the governance numbers now and over time.
import { Chart, TimeChart } from '../chart.js';
import { html, useApi, rowsOf, ErrorBox, Listing, Table } from '../ui.js';

// The series charted over time (GET /admin/v1/governance/history), each a metric name and its labels.
const CHARTED = [
  { label: 'Deny events (window)', name: 'carapace_deny_events', labels: { type: 'all' } },
  { label: 'Unexpected matrix cells', name: 'carapace_authz_matrix_unexpected_cells', labels: {} },
  { label: 'Calls of deprecated versions', name: 'carapace_api_deprecated_calls', labels: {} },
  {
    label: 'Operational certificate age p95',
    name: 'carapace_credential_age_p95_seconds',
    labels: { profile: 'operational' },
    unit: ' s',
  },
];

const same = (a, b) => Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => a[k] === b[k]);
const labelText = (labels) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

/** The governance numbers over the last week, one small chart per charted series. */
function GovernanceOverTime() {
  const history = useApi('/admin/v1/governance/history');
  if (history.error) return html`<${ErrorBox} error=${history.error} />`;
  if (!history.data) return html`<p aria-busy="true">Loading the governance history…</p>`;
  const series = history.data.series;
  return html`<div class="charts" aria-label="Governance over time">
    ${CHARTED.map((c) => {
      const s = series.find((x) => x.name === c.name && same(x.labels, c.labels));
      const { from, to } = history.data;
      return html`<${TimeChart} label=${c.label} points=${s?.points ?? []} unit=${c.unit} from=${from} to=${to} />`;
    })}
  </div>`;
}

/** The overview page. */
export function Overview() {
  const gov = useApi('/admin/v1/governance');
  const findings = useApi('/admin/v1/findings');
  const bySeverity = {};
  for (const f of rowsOf(findings.data))
    if (f.status === 'open') bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
  const metrics = (gov.data?.metrics ?? []).map((m) => ({
    measure: m.measure,
    name: m.name,
    labels: labelText(m.labels),
    value: m.value ?? m.reason,
  }));
  return html`<section aria-labelledby="h-overview">
    <h2 id="h-overview">Overview</h2>
    <h3>Open findings by severity</h3>
    <${ErrorBox} error=${findings.error} />
    <${Chart} label="Open findings by severity" labels=${Object.keys(bySeverity)} values=${Object.values(bySeverity)} />
    <h3>Incidents</h3>
    <${Listing} path="/admin/v1/incidents?limit=100" caption="Incidents" />
    <h3>Governance over the last week</h3>
    <${GovernanceOverTime} />
    <h3>Governance metrics now</h3>
    <${ErrorBox} error=${gov.error} />
    ${gov.data && html`<${Table} caption="Governance metrics" rows=${metrics} columns=${['measure', 'name', 'labels', 'value']} />`}
  </section>`;
}
