// The fleet's positions as an SVG plot of latitude and longitude (no tiles, no network): each unit a dot with its
// serial; the vehicles table beside it lists the same positions as text.
import { h } from 'preact';
import htm from 'htm';

const html = htm.bind(h);
const W = 480;
const H = 320;
const PAD = 24;

/** Dots for `units` ({ label, lat, lon, status }) scaled to their bounding box (kept square in degrees). */
export function FleetMap({ units }) {
  const placed = units.filter((u) => u.lat !== null && u.lon !== null);
  if (!placed.length) return html`<p>No unit has reported a position yet.</p>`;
  const lats = placed.map((u) => u.lat);
  const lons = placed.map((u) => u.lon);
  const [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  // One scale for both axes (at least 0.01 degree), so distances are not distorted and one unit sits in the middle.
  const span = Math.max(maxLat - minLat, maxLon - minLon, 0.01);
  const scale = Math.min(W - 2 * PAD, H - 2 * PAD) / span;
  const cx = (minLon + maxLon) / 2;
  const cy = (minLat + maxLat) / 2;
  const x = (lon) => W / 2 + (lon - cx) * scale;
  const y = (lat) => H / 2 - (lat - cy) * scale;
  return html`<svg
    class="fleet-map"
    viewBox=${`0 0 ${W} ${H}`}
    width=${W}
    height=${H}
    role="img"
    aria-label=${`Map of ${placed.length} unit positions`}
  >
    <rect x="0" y="0" width=${W} height=${H} fill="#f4f7fa" stroke="#999" />
    ${placed.map(
      (u) =>
        html`<g data-unit=${u.label}>
          <circle cx=${x(u.lon)} cy=${y(u.lat)} r="6" fill=${u.status === 'active' ? '#1a4f8b' : '#a00000'}>
            <title>${u.label}: ${u.lat.toFixed(5)}, ${u.lon.toFixed(5)} (${u.status})</title>
          </circle>
          <text x=${x(u.lon) + 9} y=${y(u.lat) + 4} font-size="12" fill="#111">${u.label}</text>
        </g>`,
    )}
    <text x=${PAD / 2} y=${H - 6} font-size="11" fill="#333">
      ${`lat ${minLat.toFixed(4)}…${maxLat.toFixed(4)}, lon ${minLon.toFixed(4)}…${maxLon.toFixed(4)}`}
    </text>
  </svg>`;
}
