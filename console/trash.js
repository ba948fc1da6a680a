// @ts-check
/**
 * The trash: what was deleted in the last 30 days, by kind, with when, by whom and how many days
 * are left before it is purged; each entry shows what a restore brings back and restores with one
 * click. After a restore the other panels re-read what they show before the restore is said done.
 */

import { ApiError } from './api.js';
import { byId, h, say, when } from './dom.js';

/** The largest page the API lists. */
const TRASH_PAGE = 200;
const DAY_MS = 86_400_000;

/**
 * Days until `purgeAfter`, a started day counted whole (30 right after a deletion).
 * @param {string} purgeAfter
 * @param {number} [now]
 */
export function daysLeft(purgeAfter, now = Date.now()) {
  return Math.max(0, Math.ceil((Date.parse(purgeAfter) - now) / DAY_MS));
}

/**
 * The name a deleted item goes by: its name, title, label, or first keyword.
 * @param {any} item
 */
export function nameOf(item) {
  const name = item?.name ?? item?.title ?? item?.label ?? item?.keywords?.[0] ?? item?.description;
  return typeof name === 'string' && name ? name : '(unnamed)';
}

/**
 * What a restore brings back, field by field, as short lines in field-name order: the API keeps
 * an item's fields in the order they were written, which differs between older and newer items.
 * @param {any} item
 * @returns {string[]}
 */
export function restoreSummary(item) {
  if (!item || typeof item !== 'object') return [];
  const fields = Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return fields.map(([field, value]) => {
    if (Array.isArray(value)) return `${field}: ${value.length} ${value.length === 1 ? 'entry' : 'entries'}${field === 'sections' ? ` (${countBlocks(value)} blocks)` : ''}`;
    if (value && typeof value === 'object') return `${field}: ${Object.keys(value).join(', ')}`;
    const text = String(value);
    return `${field}: ${text.length > 80 ? `${text.slice(0, 79)}…` : text}`;
  });
}

/** @param {any[]} sections */
function countBlocks(sections) {
  /** @type {(blocks: any[]) => number} */
  const count = (blocks) => blocks.reduce((n, b) => n + 1 + (Array.isArray(b.blocks) ? count(b.blocks) : 0), 0);
  return sections.reduce((n, s) => n + (s.columns ?? []).reduce((/** @type {number} */ m, /** @type {any} */ c) => m + count(c.blocks ?? []), 0), 0);
}

export class Trash {
  /**
   * @param {import('./api.js').Api} api
   * @param {() => Promise<void>} showRestored re-reads every panel once a restore is written
   */
  constructor(api, showRestored) {
    this.api = api;
    this.showRestored = showRestored;
    this.root = byId('trash-screen');
    /** @type {any[]} */
    this.entries = [];
    this.kind = /** @type {HTMLSelectElement} */ (h('select', { id: 'trash-kind' }));
    this.body = h('tbody');
    this.status = h('p', { id: 'trash-status', class: 'status', role: 'status' });
    this.root.replaceChildren(
      h('h2', { id: 'trash-heading' }, ['Trash']),
      h('p', {}, ['Deleted items stay here for 30 days; a restore puts one back as it was.']),
      h('div', { class: 'inline' }, [
        h('div', { class: 'field' }, [h('label', { for: 'trash-kind' }, ['Show']), this.kind]),
        h('button', { type: 'button', class: 'secondary', id: 'trash-refresh' }, ['Refresh trash']),
      ]),
      h('table', { id: 'trash-table' }, [
        h('caption', {}, ['Newest deletions first']),
        h('thead', {}, [h('tr', {}, ['Kind', 'Item', 'Deleted', 'Days left', 'Restore'].map((t) => h('th', { scope: 'col' }, [t])))]),
        this.body,
      ]),
      this.status,
    );
    this.kind.addEventListener('change', () => this.draw());
    byId('trash-refresh').addEventListener('click', () => void this.run(() => this.load()));
    this.body.addEventListener('click', (event) => {
      const button = event.target instanceof Element ? event.target.closest('button[data-restore]') : null;
      if (button) void this.run(() => this.restore(String(button.getAttribute('data-restore'))));
    });
  }

  /** @param {() => Promise<void>} action */
  async run(action) {
    try {
      await action();
    } catch (error) {
      say(this.status, error instanceof ApiError ? `${error.message} (${error.status} ${error.code})` : String(error), 'error');
    }
  }

  async load() {
    const page = await this.api.get(`/api/trash?limit=${TRASH_PAGE}`);
    this.entries = [...page.items].sort((a, b) => Date.parse(b.deletedAt) - Date.parse(a.deletedAt));
    const kinds = [...new Set(this.entries.map((e) => e.kind))].sort();
    const chosen = this.kind.value;
    this.kind.replaceChildren(
      h('option', { value: '' }, [`All kinds (${this.entries.length})`]),
      ...kinds.map((k) => h('option', { value: k }, [`${k} (${this.entries.filter((e) => e.kind === k).length})`])),
    );
    this.kind.value = kinds.includes(chosen) ? chosen : '';
    this.draw();
    if (page.nextCursor) say(this.status, `Only the first ${TRASH_PAGE} deleted items are listed.`);
  }

  draw() {
    const shown = this.entries.filter((e) => !this.kind.value || e.kind === this.kind.value);
    this.body.replaceChildren(
      ...shown.map((entry) => {
        const name = nameOf(entry.item);
        const days = daysLeft(entry.purgeAfter);
        return h('tr', { 'data-trash': entry.id }, [
          h('td', {}, [entry.kind]),
          h('td', {}, [
            h('details', {}, [h('summary', {}, [name]), h('ul', { class: 'summary' }, restoreSummary(entry.item).map((line) => h('li', {}, [line])))]),
          ]),
          h('td', {}, [when(entry.deletedAt), entry.deletedBy ? h('span', { class: 'meta' }, [` by ${entry.deletedBy}`]) : null]),
          h('td', {}, [`${days} ${days === 1 ? 'day' : 'days'}`]),
          h('td', {}, [h('button', { type: 'button', class: 'secondary', 'data-restore': entry.id, 'aria-label': `Restore ${entry.kind} ${name}` }, ['Restore'])]),
        ]);
      }),
    );
    if (!shown.length) this.body.append(h('tr', {}, [h('td', { colspan: '5' }, ['The trash is empty.'])]));
  }

  /** @param {string} id */
  async restore(id) {
    const entry = this.entries.find((e) => e.id === id);
    const { data } = await this.api.json('POST', `/api/trash/${encodeURIComponent(id)}/restore`);
    await Promise.all([this.load(), this.showRestored()]);
    const name = entry ? `${entry.kind} ${nameOf(entry.item)}` : 'The item';
    say(this.status, `Restored ${name}: ${entry ? restoreSummary(entry.item).join('; ') : data.restored}.`, 'ok');
  }
}
