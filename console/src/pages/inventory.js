// The console page "inventory".
import { html, Listing } from '../ui.js';

/** The inventory page. */
export function Inventory() {
  return html`<section aria-labelledby="h-inventory">
    <h2 id="h-inventory">API inventory</h2>
    <${Listing} path="/admin/v1/inventory/deprecated" caption="Callers of deprecated versions" />
    <${Listing} path="/admin/v1/inventory" caption="Routes" />
  </section>`;
}
