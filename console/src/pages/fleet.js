/* global setInterval, clearInterval */
// The console page "fleet": the vehicles with their last known state, and command jobs moving through their states,
// polled from the admin plane every two seconds (with a pause, so the page can be read without it moving).
import { useEffect, useState } from 'preact/hooks';
import { FleetMap } from '../map.js';
import { html, useApi, ErrorBox, Table } from '../ui.js';

const EVERY_MS = 2000;
const position = (v) => (v.lat === null ? '' : `${v.lat.toFixed(5)}, ${v.lon.toFixed(5)}`);
const yesNo = (b) => (b === null ? '' : b ? 'yes' : 'no');

/** The fleet page. */
export function Fleet() {
  const [tick, setTick] = useState(0);
  const [live, setLive] = useState(true);
  useEffect(() => {
    if (!live) return undefined;
    const t = setInterval(() => setTick((n) => n + 1), EVERY_MS);
    return () => clearInterval(t);
  }, [live]);
  const fleet = useApi('/admin/v1/fleet', tick);
  const serialOf = new Map((fleet.data?.vehicles ?? []).map((v) => [v.vehicleId, v.tcuSerial]));
  const vehicles = (fleet.data?.vehicles ?? []).map((v) => ({
    unit: v.tcuSerial,
    device: v.deviceStatus,
    position: position(v),
    speedKmh: v.speedKmh,
    gear: v.gear,
    locked: yesNo(v.locked),
    socPercent: v.socPercent,
    stateAt: v.stateAt,
  }));
  const jobs = (fleet.data?.jobs ?? []).map((j) => ({
    command: j.command,
    vehicle: serialOf.get(j.vehicleId) ?? j.vehicleId,
    state: j.state,
    path: j.transitions.map((t) => t.to).join(' → '),
    reason: j.reason,
    updatedAt: j.updatedAt,
  }));
  return html`<section aria-labelledby="h-fleet">
    <h2 id="h-fleet">Fleet</h2>
    <p>
      ${live ? 'Refreshing every 2 seconds.' : 'Paused.'}
      <button type="button" onClick=${() => setLive(!live)}>${live ? 'Pause' : 'Resume'}</button>
    </p>
    <${ErrorBox} error=${fleet.error} />
    ${
      fleet.data &&
      html`<${FleetMap}
          units=${(fleet.data?.vehicles ?? []).map((v) => ({
            label: v.tcuSerial,
            lat: v.lat,
            lon: v.lon,
            status: v.deviceStatus,
          }))}
        />
        <${Table} caption="Vehicles" rows=${vehicles} columns=${Object.keys(vehicles[0] ?? {})} />
        <${Table} caption="Command jobs" rows=${jobs} columns=${Object.keys(jobs[0] ?? {})} />`
    }
  </section>`;
}
