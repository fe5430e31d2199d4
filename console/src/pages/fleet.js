/* global setTimeout, clearTimeout */
// The console page "fleet": the vehicles with their last known state on a map and in a table, and command jobs
// moving through their states, pushed by the admin plane as server-sent events whenever the view changes (with a
// pause, so the page can be read without it moving). A stream that ends is followed again two seconds later.
import { useEffect, useState } from 'preact/hooks';
import { follow } from '../api.js';
import { FleetMap } from '../map.js';
import { html, ErrorBox, Table } from '../ui.js';

const RECONNECT_MS = 2000;
const position = (v) => (v.lat === null ? '' : `${v.lat.toFixed(5)}, ${v.lon.toFixed(5)}`);
const yesNo = (b) => (b === null ? '' : b ? 'yes' : 'no');

/** The fleet page. */
export function Fleet() {
  const [live, setLive] = useState(true);
  const [fleet, setFleet] = useState({ data: null, error: null });
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (!live) return undefined;
    let again;
    const stop = follow(
      '/admin/v1/fleet/events',
      (data) => setFleet({ data, error: null }),
      (error) => {
        if (error) setFleet((f) => ({ ...f, error }));
        again = setTimeout(() => setRound((n) => n + 1), RECONNECT_MS);
      },
    );
    return () => (stop(), clearTimeout(again));
  }, [live, round]);
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
      ${live ? 'Live: the server sends every change.' : 'Paused.'}
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
