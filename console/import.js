// @ts-check
/**
 * Import: a JSON export (this tenant's or another's) is checked by the API's dry run first; the
 * screen lists every item of the document with what the import would do to it (create, change,
 * leave unchanged, by comparing with this tenant's export) and the API's own counts, or the
 * API's refusal at the item it names. Only a document whose dry run passed can be applied.
 */

import { ApiError, errorOf } from './api.js';
import { byId, h, say } from './dom.js';

/** The content sections an import writes, as the export names them, and how a person reads them. */
export const SECTIONS = {
  sites: 'site',
  themes: 'theme',
  layouts: 'layout',
  navigations: 'navigation',
  announcements: 'announcement',
  promotedSearches: 'promoted search',
  pageMetadata: 'page metadata',
  reports: 'report',
};

/** JSON with object keys sorted, for comparing stored and imported data. */
export function canonical(/** @type {unknown} */ value) {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

/**
 * @param {string} section
 * @param {any} entry
 */
function keyOf(section, entry) {
  return `${section}|${entry.siteId ?? ''}|${entry.id ?? ''}`;
}

/**
 * Every item of `doc` with what importing it into the tenant whose export is `current` does.
 * @param {any} doc
 * @param {any} current
 * @returns {{section: string, index: number, name: string, action: 'create' | 'change' | 'unchanged'}[]}
 */
export function planOf(doc, current) {
  /** @type {Map<string, string>} */
  const stored = new Map();
  for (const section of Object.keys(SECTIONS)) {
    for (const entry of current?.[section] ?? []) stored.set(keyOf(section, entry), canonical(entry.data));
  }
  return Object.keys(SECTIONS).flatMap((section) =>
    (Array.isArray(doc?.[section]) ? doc[section] : []).map((/** @type {any} */ entry, /** @type {number} */ index) => {
      const before = stored.get(keyOf(section, entry));
      const action = before === undefined ? 'create' : before === canonical(entry.data) ? 'unchanged' : 'change';
      return { section, index, name: nameOf(section, entry), action: /** @type {'create' | 'change' | 'unchanged'} */ (action) };
    }),
  );
}

/**
 * @param {string} section
 * @param {any} entry
 */
function nameOf(section, entry) {
  const data = entry?.data ?? {};
  const name = data.name ?? data.title ?? data.keywords?.join(', ') ?? (section === 'pageMetadata' ? `page ${entry.id}` : '');
  const site = entry?.siteId ? ` (site ${entry.siteId})` : '';
  return `${name || entry?.id || '(unnamed)'}${site}`;
}

/**
 * The API's counts as a sentence.
 * @param {{created: Record<string, number>, updated: Record<string, number>, unchanged: Record<string, number>}} report
 */
export function describeReport(report) {
  const total = (/** @type {Record<string, number>} */ counts) => Object.values(counts).reduce((a, b) => a + b, 0);
  const list = (/** @type {Record<string, number>} */ counts) => Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ');
  const part = (/** @type {string} */ verb, /** @type {Record<string, number>} */ counts) => `${verb} ${total(counts)}${total(counts) ? ` (${list(counts)})` : ''}`;
  return [part('created', report.created), part('changed', report.updated), part('unchanged', report.unchanged)].join('; ');
}

export class Import {
  /**
   * @param {import('./api.js').Api} api
   * @param {() => Promise<void>} showRestored re-reads every panel once an import is written
   */
  constructor(api, showRestored) {
    this.api = api;
    this.showRestored = showRestored;
    this.root = byId('import-screen');
    /** @type {any | null} the document whose dry run passed */
    this.checked = null;
    this.file = /** @type {HTMLInputElement} */ (h('input', { type: 'file', id: 'import-file', accept: 'application/json,.json' }));
    this.body = h('tbody');
    this.table = h('table', { id: 'import-table', hidden: true }, [
      h('caption', {}, ['What the import would do, item by item']),
      h('thead', {}, [h('tr', {}, ['Section', 'Item', 'Outcome'].map((t) => h('th', { scope: 'col' }, [t])))]),
      this.body,
    ]);
    this.summary = h('p', { id: 'import-summary', class: 'status', role: 'status' });
    this.status = h('p', { id: 'import-status', class: 'status', role: 'status' });
    this.apply = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', id: 'import-apply', disabled: true }, ['Apply import']));
    this.root.replaceChildren(
      h('h2', { id: 'import-heading' }, ['Import']),
      h('p', {}, ['Restore content from a JSON export: items are created or replaced by id; what the file does not name is left alone. A dry run shows what would happen first.']),
      h('div', { class: 'inline' }, [
        h('div', { class: 'field' }, [h('label', { for: 'import-file' }, ['JSON export file']), this.file]),
        h('button', { type: 'button', class: 'secondary', id: 'import-check' }, ['Check (dry run)']),
        this.apply,
      ]),
      this.summary,
      this.table,
      this.status,
    );
    this.file.addEventListener('change', () => {
      this.checked = null;
      this.apply.disabled = true;
    });
    byId('import-check').addEventListener('click', () => void this.run(() => this.check()));
    this.apply.addEventListener('click', () => void this.run(() => this.applyChecked()));
  }

  /** @param {() => Promise<void>} action */
  async run(action) {
    try {
      await action();
    } catch (error) {
      say(this.status, error instanceof ApiError ? `${error.message} (${error.status} ${error.code})` : String(error), 'error');
    }
  }

  async check() {
    this.checked = null;
    this.apply.disabled = true;
    say(this.status, '');
    const file = this.file.files?.[0];
    if (!file) throw new Error('Choose a JSON export file first.');
    /** @type {any} */
    let doc;
    try {
      doc = JSON.parse(await file.text());
    } catch {
      throw new Error(`${file.name} is not JSON.`);
    }
    const [current, answer] = await Promise.all([this.api.get('/api/export'), this.api.send('POST', '/api/import?dryRun=true', { body: doc })]);
    const plan = planOf(doc, current);
    if (answer.ok) {
      const report = await answer.json();
      this.draw(plan, null);
      say(this.summary, `Dry run of ${file.name}: would be ${describeReport(report)}. Nothing was written.`, 'ok');
      this.checked = doc;
      this.apply.disabled = false;
      return;
    }
    const error = await errorOf(answer);
    this.draw(plan, error.message);
    say(this.summary, `Dry run of ${file.name}: refused, nothing can be imported from it. ${error.message} (${error.status} ${error.code})`, 'error');
  }

  /**
   * @param {ReturnType<typeof planOf>} plan
   * @param {string | null} refusal the API's message, naming `section[index]` when it is an item's
   */
  draw(plan, refusal) {
    const at = refusal ? /^([A-Za-z]+)\[(\d+)\]: (.*)$/s.exec(refusal) : null;
    const words = { create: 'would be created', change: 'would be changed', unchanged: 'unchanged' };
    this.body.replaceChildren(
      ...plan.map((item) => {
        const refused = at && at[1] === item.section && Number(at[2]) === item.index;
        return h('tr', { class: refused ? 'refused' : `outcome-${item.action}` }, [
          h('td', {}, [SECTIONS[/** @type {keyof SECTIONS} */ (item.section)]]),
          h('td', {}, [item.name]),
          h('td', {}, [refused ? `refused: ${at?.[3]}` : refusal ? `${words[item.action]} (if the file were accepted)` : words[item.action]]),
        ]);
      }),
    );
    if (!plan.length) this.body.append(h('tr', {}, [h('td', { colspan: '3' }, ['The file names no content.'])]));
    this.table.hidden = false;
  }

  async applyChecked() {
    const doc = this.checked;
    if (!doc) throw new Error('Run the dry run first.');
    this.apply.disabled = true;
    const { data } = await this.api.json('POST', '/api/import', { body: doc });
    this.checked = null;
    await this.showRestored();
    say(this.status, `Imported: ${describeReport(data)}.`, 'ok');
  }
}
