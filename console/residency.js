// @ts-check
/**
 * Data residency: where the tenant's data lives, starting a move to another region, and its
 * progress while `GET /api/residency` reports it. After the switch the old region answers 421
 * naming the new one; that is the end of the move as seen from here.
 */

import { ApiError, errorOf } from './api.js';
import { byId, h, say } from './dom.js';

/** How often a move in flight is polled. */
export const POLL_MS = 500;

/** The share of the bar each phase starts at; copying fills the first part by items copied. */
const PHASE_START = { scheduled: 0, copying: 5, 'read-only': 85, ready: 95, switched: 100, cancelled: 0, failed: 0 };

/**
 * The bar's value for a migration.
 * @param {any} migration
 */
export function percent(migration) {
  if (migration.phase !== 'copying') return PHASE_START[/** @type {keyof PHASE_START} */ (migration.phase)] ?? 0;
  const { itemsTotal, itemsCopied } = migration.progress;
  const share = itemsTotal > 0 ? Math.min(1, itemsCopied / itemsTotal) : 0;
  return Math.round(PHASE_START.copying + share * (PHASE_START['read-only'] - PHASE_START.copying));
}

/** @param {any} migration */
function describe(migration) {
  const p = migration.progress;
  const parts = [`Move to ${migration.to}: ${migration.phase}`, `${p.itemsCopied} of ${p.itemsTotal} items copied`];
  if (p.objectsCopied) parts.push(`${p.objectsCopied} media objects`);
  if (migration.verified) parts.push(`${migration.verified.items} items verified`);
  if (migration.readOnlyMs !== undefined) parts.push(`read-only for ${migration.readOnlyMs} ms`);
  if (migration.message) parts.push(migration.message);
  return `${parts.join('; ')}.`;
}

export class Residency {
  /** @param {import('./api.js').Api} api */
  constructor(api) {
    this.api = api;
    this.where = byId('residency-where');
    this.form = byId('residency-form', HTMLFormElement);
    this.select = byId('residency-region', HTMLSelectElement);
    this.bar = byId('residency-progress', HTMLProgressElement);
    this.status = byId('residency-status');
    this.polling = false;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.start();
    });
  }

  /** Reads the state; keeps polling while a move is in flight. */
  async load() {
    const response = await this.api.send('GET', '/api/residency', { followRegion: false });
    if (response.status === 421) return this.moved(await errorOf(response));
    if (!response.ok) throw await errorOf(response);
    const view = await response.json();
    this.where.textContent = `This tenant's data lives in region ${view.region}.`;
    const others = view.regions.filter((/** @type {string} */ r) => r !== view.region);
    this.select.replaceChildren(...others.map((/** @type {string} */ r) => h('option', { value: r }, [r])));
    const button = /** @type {HTMLButtonElement} */ (this.form.querySelector('button'));
    const migration = view.migration;
    const inFlight = migration && ['scheduled', 'copying', 'read-only', 'ready'].includes(migration.phase);
    button.disabled = others.length === 0 || Boolean(inFlight);
    this.select.disabled = others.length === 0;
    if (migration) {
      this.bar.value = percent(migration);
      say(this.status, describe(migration), migration.phase === 'failed' ? 'error' : '');
    } else if (others.length === 0) {
      this.bar.value = 0;
      say(this.status, `This server knows no other region (${view.regions.join(', ')}); there is nowhere to move to.`);
    }
    if (inFlight) this.poll();
  }

  /** @param {ApiError} error */
  moved(error) {
    this.bar.value = 100;
    const region = String(error.detail.region ?? '');
    this.where.textContent = `This tenant's data now lives in region ${region}.`;
    say(this.status, `Move to ${region}: switched. The tenant is now served at ${error.detail.baseUrl}.`, 'ok');
    /** @type {HTMLButtonElement} */ (this.form.querySelector('button')).disabled = true;
  }

  poll() {
    if (this.polling) return;
    this.polling = true;
    setTimeout(() => {
      this.polling = false;
      this.load().catch((error) => say(this.status, error.message, 'error'));
    }, POLL_MS);
  }

  async start() {
    const region = this.select.value;
    try {
      const { data } = await this.api.json('POST', '/api/residency/migrations', { body: { region }, followRegion: false });
      this.bar.value = percent(data.migration);
      say(this.status, describe(data.migration));
      this.poll();
    } catch (error) {
      say(this.status, `The move did not start: ${error instanceof Error ? error.message : error}`, 'error');
    }
  }
}
