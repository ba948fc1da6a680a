// @ts-check
/**
 * Promoted search results of the chosen site: keywords, the results pinned above the organic
 * ones (a page, a space or a web address, with a title and description), and the window they are
 * active in. The list says which are active, scheduled or ended; "Active now" is what the site's
 * config serves at this moment, and a query can be tried against it. Saving and deleting send
 * `If-Match`; every field has the API's check as it is typed.
 */

import { ApiError } from './api.js';
import * as check from './bounds.js';
import { guardedSave } from './conflict.js';
import { byId, h, localToRfc3339, say, when } from './dom.js';
import { errorFor, field, focusFirstProblem, serverProblem, showProblems } from './fields.js';

/** `shared/src/domain/content/model/promoted_search.rs`, name for name (a unit test compares). */
export const SEARCH_BOUNDS = {
  MAX_KEYWORDS: 20,
  MAX_KEYWORD_CHARS: 100,
  MAX_TARGETS: 10,
  MAX_TARGET_TITLE_CHARS: 200,
  MAX_TARGET_DESCRIPTION_CHARS: 500,
};
const S = SEARCH_BOUNDS;
const P = 'ps';

/** How queries and keywords are compared (`normalize_keyword`). */
export function normalizeKeyword(/** @type {string} */ keyword) {
  return keyword.trim().toLowerCase();
}

/**
 * Where an item stands at `now`: active, scheduled or ended.
 * @param {{startsAt?: string, endsAt?: string}} item
 * @param {number} [now]
 */
export function windowState(item, now = Date.now()) {
  if (item.startsAt && Date.parse(item.startsAt) > now) return `scheduled from ${when(item.startsAt)}`;
  if (item.endsAt && Date.parse(item.endsAt) <= now) return `ended ${when(item.endsAt)}`;
  return item.endsAt ? `active until ${when(item.endsAt)}` : 'active';
}

/** An RFC 3339 time as a `datetime-local` value in the admin's time zone. */
export function rfc3339ToLocal(/** @type {string | undefined} */ rfc3339) {
  if (!rfc3339) return '';
  const date = new Date(rfc3339);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/**
 * Every problem of a promoted search, by the API's path (a target's destination under
 * `targets[i].target`, the one field that edits it).
 * @param {any} search
 * @returns {Map<string, string>}
 */
export function searchProblems(search) {
  /** @type {Map<string, string>} */
  const problems = new Map();
  const note = (/** @type {string} */ path, /** @type {string | null} */ problem) => check.note(problems, path, problem);
  note('keywords', check.listLength(search.keywords.length, 1, S.MAX_KEYWORDS));
  /** @type {Map<string, number>} */
  const seen = new Map();
  search.keywords.forEach((/** @type {string} */ keyword, /** @type {number} */ i) => {
    const problem = check.requiredText(keyword, S.MAX_KEYWORD_CHARS);
    note('keywords', problem && `keyword ${i + 1} ${problem}`);
    const first = seen.get(normalizeKeyword(keyword));
    if (first !== undefined) note('keywords', `keyword ${i + 1} duplicate of keyword ${first + 1}`);
    else seen.set(normalizeKeyword(keyword), i);
  });
  note('targets', check.listLength(search.targets.length, 1, S.MAX_TARGETS));
  search.targets.forEach((/** @type {any} */ target, /** @type {number} */ i) => {
    const path = `targets[${i}]`;
    note(`${path}.title`, check.requiredText(target.title, S.MAX_TARGET_TITLE_CHARS));
    const to = target.target;
    note(`${path}.target`, to.type === 'page' ? check.pageId(to.pageId) : to.type === 'space' ? check.spaceKey(to.spaceKey) : check.httpUrl(to.url));
    if (target.description !== undefined) note(`${path}.description`, check.singleLine(target.description, S.MAX_TARGET_DESCRIPTION_CHARS));
  });
  if (search.startsAt && search.endsAt) {
    const [starts, ends] = [Date.parse(search.startsAt), Date.parse(search.endsAt)];
    if (ends < starts) note('endsAt', 'before startsAt');
    else if (ends === starts) note('endsAt', 'equal to startsAt; the window would be empty');
  }
  return problems;
}

/** @param {any} target */
function describeTarget(target) {
  const to = target.target;
  return `${target.title} (${to.type === 'page' ? `page ${to.pageId}` : to.type === 'space' ? `space ${to.spaceKey}` : to.url})`;
}

export class PromotedSearches {
  /**
   * @param {import('./api.js').Api} api
   * @param {() => any} currentSite
   */
  constructor(api, currentSite) {
    this.api = api;
    this.currentSite = currentSite;
    this.root = byId('searches-screen');
    /** @type {any[]} */
    this.items = [];
    /** @type {any | null} the stored search being edited */
    this.editing = null;
    /** @type {any[]} the config's active searches */
    this.active = [];
    /** @type {Map<string, string>} */
    this.server = new Map();
    /** @type {Map<string, string>} */
    this.problems = new Map();
    this.list = h('ul', { id: 'ps-list', class: 'rows', 'aria-label': 'Promoted searches of this site' });
    this.activeList = h('ul', { id: 'ps-active', class: 'rows', 'aria-label': 'Promoted searches active now' });
    this.tryResult = h('p', { id: 'ps-try-result', class: 'status', role: 'status' });
    this.targets = h('ol', { id: 'ps-targets', class: 'lb-links' });
    this.form = /** @type {HTMLFormElement} */ (h('form', { id: 'ps-form', novalidate: true }));
    this.status = h('p', { id: 'ps-status', class: 'status', role: 'status' });
    this.formHeading = h('h3', { id: 'ps-form-heading' }, ['New promoted search']);
    this.form.append(
      field(P, 'keywords', `Keywords (comma-separated, up to ${S.MAX_KEYWORDS})`, h('input', { autocomplete: 'off' })),
      this.targets,
      errorFor(P, 'targets'),
      h('button', { type: 'button', class: 'secondary', id: 'ps-add-target' }, ['Add result']),
      h('div', { class: 'grid' }, [
        field(P, 'startsAt', 'Active from (your time; empty: now)', h('input', { type: 'datetime-local' })),
        field(P, 'endsAt', 'Active until (your time; empty: no end)', h('input', { type: 'datetime-local' })),
      ]),
      errorFor(P, ''),
      h('div', { class: 'actions' }, [
        h('button', { type: 'submit', id: 'ps-save' }, ['Save promoted search']),
        h('button', { type: 'button', class: 'secondary', id: 'ps-new' }, ['New promoted search']),
      ]),
    );
    this.root.replaceChildren(
      h('h2', { id: 'searches-heading' }, ['Promoted search results']),
      h('p', {}, ['Results pinned above the organic ones when a visitor searches for one of the keywords.']),
      this.list,
      h('h3', {}, ['Active now']),
      this.activeList,
      h('div', { class: 'inline' }, [
        h('div', { class: 'field' }, [h('label', { for: 'ps-try' }, ['Try a search']), h('input', { id: 'ps-try', type: 'search', autocomplete: 'off' })]),
      ]),
      this.tryResult,
      this.formHeading,
      this.form,
      this.status,
    );
    /** Messages show once the admin has typed or tried to save, not on a fresh form. */
    this.touched = false;
    const touched = () => {
      this.touched = true;
      this.refresh();
    };
    this.form.addEventListener('input', touched);
    this.form.addEventListener('change', touched);
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.run(() => this.save());
    });
    this.targets.addEventListener('click', (event) => {
      const button = event.target instanceof Element ? event.target.closest('button[data-remove-target]') : null;
      if (!button) return;
      const rows = this.readTargets();
      rows.splice(Number(button.getAttribute('data-remove-target')), 1);
      this.drawTargets(rows);
    });
    byId('ps-add-target').addEventListener('click', () => {
      const rows = this.readTargets();
      if (rows.length >= S.MAX_TARGETS) return say(this.status, `At most ${S.MAX_TARGETS} results per promoted search.`, 'error');
      this.drawTargets([...rows, { title: '', type: 'page', value: '', description: '' }]);
      /** @type {HTMLElement | null} */ (this.targets.querySelector(`li:last-child input`))?.focus();
    });
    byId('ps-new').addEventListener('click', () => this.edit(null));
    byId('ps-try').addEventListener('input', () => this.tryQuery());
    this.list.addEventListener('click', (event) => {
      const button = event.target instanceof Element ? event.target.closest('button[data-ps]') : null;
      if (!button) return;
      const item = this.items.find((i) => i.id === button.getAttribute('data-ps'));
      if (!item) return;
      if (button.getAttribute('data-action') === 'edit') this.edit(item);
      else void this.run(() => this.remove(item));
    });
  }

  /** @param {() => Promise<void>} action */
  async run(action) {
    try {
      await action();
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        this.server = serverProblem(error.message.replace(/^(targets\[\d+\]\.target)\.(pageId|spaceKey|url)/, '$1'));
        this.refresh();
      }
      say(this.status, error instanceof ApiError ? `${error.message} (${error.status} ${error.code})` : String(error), 'error');
    }
  }

  get path() {
    return `/api/sites/${encodeURIComponent(this.currentSite().id)}/promoted-searches`;
  }

  async load() {
    const [page, config] = await Promise.all([this.api.get(`${this.path}?limit=200`), this.api.get(`/api/sites/${encodeURIComponent(this.currentSite().id)}/config`)]);
    this.items = page.items;
    this.active = config.promotedSearches;
    this.list.replaceChildren(
      ...this.items.map((item) =>
        h('li', {}, [
          h('span', {}, [h('strong', {}, [item.keywords.join(', ')]), ' → ', item.targets.map(describeTarget).join('; '), ' ', h('span', { class: 'meta' }, [windowState(item)])]),
          h('span', { class: 'actions' }, [
            h('button', { type: 'button', class: 'secondary', 'data-ps': item.id, 'data-action': 'edit', 'aria-label': `Edit ${item.keywords.join(', ')}` }, ['Edit']),
            h('button', { type: 'button', class: 'danger', 'data-ps': item.id, 'data-action': 'delete', 'aria-label': `Delete ${item.keywords.join(', ')}` }, ['Delete']),
          ]),
        ]),
      ),
    );
    if (!this.items.length) this.list.append(h('li', {}, ['No promoted searches yet.']));
    this.activeList.replaceChildren(
      ...this.active.map((item) => h('li', {}, [h('span', {}, [h('strong', {}, [item.keywords.join(', ')]), ' → ', item.targets.map(describeTarget).join('; ')])])),
    );
    if (!this.active.length) this.activeList.append(h('li', {}, ['None is active now.']));
    this.tryQuery();
    if (!this.editing && !this.targets.children.length) this.edit(null);
  }

  tryQuery() {
    const query = normalizeKeyword(byId('ps-try', HTMLInputElement).value);
    if (!query) return say(this.tryResult, 'Type a query to see the results promoted for it now.');
    const hits = this.active.filter((item) => item.keywords.some((/** @type {string} */ k) => normalizeKeyword(k) === query));
    say(this.tryResult, hits.length ? `Promoted for “${query}”: ${hits.flatMap((i) => i.targets.map(describeTarget)).join('; ')}.` : `Nothing is promoted for “${query}” now.`);
  }

  /** @param {any | null} item */
  edit(item) {
    this.editing = item;
    this.touched = false;
    this.server = new Map();
    this.formHeading.textContent = item ? `Edit ${item.keywords.join(', ')}` : 'New promoted search';
    const input = (/** @type {string} */ path) => /** @type {HTMLInputElement} */ (this.form.querySelector(`[data-path="${path}"]`));
    input('keywords').value = item ? item.keywords.join(', ') : '';
    input('startsAt').value = rfc3339ToLocal(item?.startsAt);
    input('endsAt').value = rfc3339ToLocal(item?.endsAt);
    this.drawTargets(
      item
        ? item.targets.map((/** @type {any} */ t) => ({ title: t.title, type: t.target.type, value: t.target.pageId ?? t.target.spaceKey ?? t.target.url, description: t.description ?? '' }))
        : [{ title: '', type: 'page', value: '', description: '' }],
    );
    if (item) input('keywords').focus();
  }

  /** @param {{title: string, type: string, value: string, description: string}[]} rows */
  drawTargets(rows) {
    this.targets.replaceChildren(
      ...rows.map((row, i) => {
        const path = `targets[${i}]`;
        const type = /** @type {HTMLSelectElement} */ (
          h('select', { 'data-part': 'type' }, [
            h('option', { value: 'page' }, ['A Confluence page (id)']),
            h('option', { value: 'space' }, ['A space (key)']),
            h('option', { value: 'url' }, ['A web address']),
          ])
        );
        type.value = row.type;
        type.id = `ps-${path.replace(/[^A-Za-z0-9]+/g, '-')}type`;
        return h('li', { class: 'grid', 'data-target': String(i) }, [
          field(P, `${path}.title`, `Title of result ${i + 1}`, h('input', { value: row.title, 'data-part': 'title' })),
          h('div', { class: 'field' }, [h('label', { for: type.id }, [`Result ${i + 1} links to`]), type]),
          field(P, `${path}.target`, `Page id, space key or address of result ${i + 1}`, h('input', { value: row.value, 'data-part': 'value' })),
          field(P, `${path}.description`, `Description of result ${i + 1} (optional)`, h('input', { value: row.description, 'data-part': 'description' })),
          h('div', { class: 'actions' }, [h('button', { type: 'button', class: 'danger small', 'data-remove-target': String(i), 'aria-label': `Remove result ${i + 1}` }, ['Remove result'])]),
        ]);
      }),
    );
    this.refresh();
  }

  readTargets() {
    return [...this.targets.querySelectorAll('li[data-target]')].map((li) => {
      const part = (/** @type {string} */ name) => /** @type {HTMLInputElement} */ (li.querySelector(`[data-part="${name}"]`)).value;
      return { title: part('title'), type: part('type'), value: part('value'), description: part('description') };
    });
  }

  /** The form as the API's model. */
  draft() {
    const value = (/** @type {string} */ path) => /** @type {HTMLInputElement} */ (this.form.querySelector(`[data-path="${path}"]`)).value;
    /** @type {Record<string, any>} */
    const search = {
      keywords: value('keywords').split(',').map((k) => k.trim()).filter(Boolean),
      targets: this.readTargets().map((row) => {
        const key = row.type === 'page' ? 'pageId' : row.type === 'space' ? 'spaceKey' : 'url';
        /** @type {Record<string, any>} */
        const target = { title: row.title.trim(), target: { type: row.type, [key]: row.value.trim() } };
        if (row.description.trim()) target.description = row.description.trim();
        return target;
      }),
    };
    const startsAt = localToRfc3339(value('startsAt'));
    const endsAt = localToRfc3339(value('endsAt'));
    if (startsAt) search.startsAt = startsAt;
    if (endsAt) search.endsAt = endsAt;
    return search;
  }

  refresh() {
    const problems = searchProblems(this.draft());
    for (const [path, problem] of this.server) if (!problems.has(path)) problems.set(path, problem);
    this.problems = problems;
    const unplaced = showProblems(this.form, this.touched ? problems : new Map());
    if (unplaced.length) say(this.status, unplaced.join('; '), 'error');
  }

  async save() {
    this.touched = true;
    this.server = new Map();
    this.refresh();
    if (this.problems.size) {
      focusFirstProblem(this.form);
      return say(this.status, `Not saved: ${this.problems.size} ${this.problems.size === 1 ? 'field needs' : 'fields need'} attention (marked in the form).`, 'error');
    }
    const body = this.draft();
    const editing = this.editing;
    if (!editing) {
      const { data } = await this.api.json('POST', this.path, { body });
      await this.load();
      this.edit(data);
      return say(this.status, `Created promoted search ${data.keywords.join(', ')} (${windowState(data)}).`, 'ok');
    }
    const path = `${this.path}/${encodeURIComponent(editing.id)}`;
    await guardedSave(this.status, {
      what: 'The promoted search',
      read: editing,
      send: async (headers) => (await this.api.json('PUT', path, { body, headers })).data,
      latest: () => this.api.get(path),
      reload: async () => {
        await this.load();
        this.edit(await this.api.get(path));
      },
      saved: async (stored) => {
        await this.load();
        this.edit(stored);
        say(this.status, `Saved promoted search ${stored.keywords.join(', ')} (version ${stored.version}, ${windowState(stored)}).`, 'ok');
      },
    });
  }

  /** @param {any} item */
  async remove(item) {
    const path = `${this.path}/${encodeURIComponent(item.id)}`;
    await guardedSave(this.status, {
      what: 'The promoted search',
      read: item,
      send: (headers) => this.api.json('DELETE', path, { headers }),
      latest: () => this.api.get(path),
      reload: () => this.load(),
      saved: async () => {
        if (this.editing?.id === item.id) this.edit(null);
        await this.load();
        say(this.status, `Deleted promoted search ${item.keywords.join(', ')} (restorable from the trash for 30 days).`, 'ok');
        this.root.dispatchEvent(new CustomEvent('content-deleted', { bubbles: true }));
      },
    });
  }
}
