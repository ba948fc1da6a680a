// @ts-check
/**
 * Report configurations (Jira tenants only): a saved JQL query with the fields shown as columns,
 * its sort keys, grouping, filters and aggregations, as `report.rs` has them. Every field is
 * checked as the API checks it while typing; saving and deleting send `If-Match`.
 */

import { ApiError } from './api.js';
import * as check from './bounds.js';
import { guardedSave } from './conflict.js';
import { byId, h, say } from './dom.js';
import { errorFor, field, focusFirstProblem, serverProblem, showProblems } from './fields.js';

/** `shared/src/domain/content/model/report.rs`, name for name (a unit test compares). */
export const REPORT_BOUNDS = {
  MAX_NAME_CHARS: 200,
  MAX_DESCRIPTION_CHARS: 2000,
  MAX_JQL_CHARS: 10_000,
  MAX_COLUMNS: 50,
  MAX_SORT_KEYS: 5,
  MAX_FILTERS: 20,
  MAX_FILTER_VALUES: 100,
  MAX_FILTER_VALUE_CHARS: 500,
  MAX_AGGREGATIONS: 10,
};
const R = REPORT_BOUNDS;
const P = 'rp';
export const OPERATORS = ['eq', 'ne', 'in', 'notIn', 'gt', 'gte', 'lt', 'lte', 'contains', 'isEmpty', 'isNotEmpty'];
export const FUNCTIONS = ['count', 'sum', 'avg', 'min', 'max'];
const OPERATOR_WORDS = { eq: 'equals', ne: 'is not', in: 'is one of', notIn: 'is none of', gt: 'greater than', gte: 'at least', lt: 'less than', lte: 'at most', contains: 'contains', isEmpty: 'is empty', isNotEmpty: 'is not empty' };

/** How many values an operator takes (`FilterOperator::value_count`). */
function valueCount(/** @type {string} */ operator) {
  if (operator === 'isEmpty' || operator === 'isNotEmpty') return [0, 0];
  if (operator === 'in' || operator === 'notIn') return [1, R.MAX_FILTER_VALUES];
  return [1, 1];
}

/**
 * Every problem of a report configuration, by the API's path (a filter's values under
 * `filters[i].values`, the one field that edits them).
 * @param {any} report
 */
export function reportProblems(report) {
  /** @type {Map<string, string>} */
  const problems = new Map();
  const note = (/** @type {string} */ path, /** @type {string | null} */ problem) => check.note(problems, path, problem);
  note('name', check.requiredText(report.name, R.MAX_NAME_CHARS));
  if (report.description !== undefined) note('description', check.multiLine(report.description, R.MAX_DESCRIPTION_CHARS));
  note('jql', report.jql.trim() ? check.multiLine(report.jql, R.MAX_JQL_CHARS) : 'empty');
  note('columns', check.listLength(report.columns.length, 1, R.MAX_COLUMNS));
  report.columns.forEach((/** @type {string} */ column, /** @type {number} */ i) => {
    const problem = check.fieldId(column);
    note('columns', problem && `column ${i + 1} is ${problem}`);
    const first = report.columns.indexOf(column);
    if (first < i) note('columns', `column ${i + 1} duplicate of column ${first + 1}`);
  });
  note('sort', check.listLength(report.sort.length, 0, R.MAX_SORT_KEYS));
  report.sort.forEach((/** @type {any} */ key, /** @type {number} */ i) => {
    note(`sort[${i}].field`, check.fieldId(key.field));
    const first = report.sort.findIndex((/** @type {any} */ k) => k.field === key.field);
    if (first < i) note(`sort[${i}].field`, `duplicate of sort[${first}]`);
  });
  if (report.groupBy !== undefined) note('groupBy', check.fieldId(report.groupBy));
  note('filters', check.listLength(report.filters.length, 0, R.MAX_FILTERS));
  report.filters.forEach((/** @type {any} */ filter, /** @type {number} */ i) => {
    note(`filters[${i}].field`, check.fieldId(filter.field));
    const [min, max] = valueCount(filter.operator);
    const count = filter.values.length;
    if (count < min || count > max) {
      note(
        `filters[${i}].values`,
        max === 0 ? `${filter.operator} takes no values` : max === 1 ? `${filter.operator} takes exactly one value` : count > max ? `more than ${max} items` : `${filter.operator} takes at least one value`,
      );
    }
    filter.values.forEach((/** @type {string} */ value, /** @type {number} */ j) => {
      const problem = check.singleLine(value, R.MAX_FILTER_VALUE_CHARS);
      note(`filters[${i}].values`, problem && `value ${j + 1} is ${problem}`);
    });
  });
  note('aggregations', check.listLength(report.aggregations.length, 0, R.MAX_AGGREGATIONS));
  report.aggregations.forEach((/** @type {any} */ aggregation, /** @type {number} */ i) => {
    note(`aggregations[${i}].field`, check.fieldId(aggregation.field));
    if (aggregation.field === 'issue' && aggregation.function !== 'count') note(`aggregations[${i}].field`, '"issue" can only be counted');
    const first = report.aggregations.findIndex((/** @type {any} */ a) => a.field === aggregation.field && a.function === aggregation.function);
    if (first < i) note(`aggregations[${i}].field`, `duplicate of aggregations[${first}]`);
  });
  return problems;
}

/** @param {string} text */
const listOf = (text) => text.split(',').map((v) => v.trim()).filter(Boolean);

/**
 * @param {string} value
 * @param {string[]} options
 * @param {Record<string, string>} [words]
 */
function select(value, options, words = {}) {
  const element = /** @type {HTMLSelectElement} */ (h('select', {}, options.map((o) => h('option', { value: o }, [words[o] ?? o]))));
  element.value = value;
  return element;
}

export class Reports {
  /** @param {import('./api.js').Api} api */
  constructor(api) {
    this.api = api;
    this.root = byId('reports-screen');
    /** @type {any[]} */
    this.items = [];
    /** @type {any | null} */
    this.editing = null;
    /** @type {Map<string, string>} */
    this.problems = new Map();
    /** @type {Map<string, string>} */
    this.server = new Map();
    this.touched = false;
    /** @type {{name: string, description: string, jql: string, columns: string, groupBy: string}} the form's single fields */
    this.values = { name: '', description: '', jql: '', columns: '', groupBy: '' };
    /** @type {{sort: any[], filters: any[], aggregations: any[]}} rows of the list fields */
    this.rows = { sort: [], filters: [], aggregations: [] };
    this.list = h('ul', { id: 'rp-list', class: 'rows', 'aria-label': 'Report configurations' });
    this.form = /** @type {HTMLFormElement} */ (h('form', { id: 'rp-form', novalidate: true }));
    this.status = h('p', { id: 'rp-status', class: 'status', role: 'status' });
    this.heading = h('h3', { id: 'rp-form-heading' }, ['New report']);
    this.root.replaceChildren(
      h('h2', { id: 'reports-heading' }, ['Report configurations']),
      h('p', {}, ['Saved Jira queries that sites show as reports: the JQL, the fields shown, sorting, grouping, filters and totals.']),
      this.list,
      this.heading,
      this.form,
      this.status,
    );
    const touched = () => {
      this.touched = true;
      this.readRows();
      this.refresh();
    };
    this.form.addEventListener('input', touched);
    this.form.addEventListener('change', (event) => {
      touched();
      // An operator without values disables the values field.
      if (event.target instanceof HTMLSelectElement && event.target.dataset.part === 'operator') {
        const id = event.target.id;
        this.draw();
        byId(id).focus();
      }
    });
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.run(() => this.save());
    });
    this.form.addEventListener('click', (event) => {
      const button = event.target instanceof Element ? event.target.closest('button[data-rows]') : null;
      if (!button) return;
      this.readRows();
      const kind = /** @type {'sort' | 'filters' | 'aggregations'} */ (button.getAttribute('data-rows'));
      const index = button.getAttribute('data-index');
      if (index !== null) this.rows[kind].splice(Number(index), 1);
      else this.rows[kind].push(kind === 'sort' ? { field: '', direction: 'asc' } : kind === 'filters' ? { field: '', operator: 'eq', values: [] } : { field: 'issue', function: 'count' });
      this.draw();
    });
    this.list.addEventListener('click', (event) => {
      const button = event.target instanceof Element ? event.target.closest('button[data-report]') : null;
      const item = button && this.items.find((i) => i.id === button.getAttribute('data-report'));
      if (!button || !item) return;
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
        this.server = serverProblem(error.message);
        this.refresh();
      }
      say(this.status, error instanceof ApiError ? `${error.message} (${error.status} ${error.code})` : String(error), 'error');
    }
  }

  /** Shown for Jira tenants only. */
  async show() {
    this.root.hidden = false;
    await this.load();
    this.edit(null);
  }

  async load() {
    this.items = (await this.api.get('/api/reports?limit=200')).items;
    this.list.replaceChildren(
      ...this.items.map((item) =>
        h('li', {}, [
          h('span', {}, [h('strong', {}, [item.name]), ' ', h('span', { class: 'meta' }, [item.jql])]),
          h('span', { class: 'actions' }, [
            h('button', { type: 'button', class: 'secondary', 'data-report': item.id, 'data-action': 'edit', 'aria-label': `Edit ${item.name}` }, ['Edit']),
            h('button', { type: 'button', class: 'danger', 'data-report': item.id, 'data-action': 'delete', 'aria-label': `Delete ${item.name}` }, ['Delete']),
          ]),
        ]),
      ),
    );
    if (!this.items.length) this.list.append(h('li', {}, ['No reports yet.']));
  }

  /** @param {any | null} item */
  edit(item) {
    this.editing = item;
    this.touched = false;
    this.server = new Map();
    this.heading.textContent = item ? `Edit ${item.name}` : 'New report';
    this.values = {
      name: item?.name ?? '',
      description: item?.description ?? '',
      jql: item?.jql ?? '',
      columns: (item?.columns ?? ['key', 'summary', 'status']).join(', '),
      groupBy: item?.groupBy ?? '',
    };
    this.rows = {
      sort: structuredClone(item?.sort ?? []),
      filters: structuredClone(item?.filters ?? []),
      aggregations: structuredClone(item?.aggregations ?? []),
    };
    this.draw();
  }

  /** Redraws the form from `values` and `rows`. */
  draw() {
    const v = this.values;
    const input = (/** @type {string} */ value, /** @type {string} */ part, /** @type {Record<string, string | boolean>} */ extra = {}) => h('input', { value, 'data-part': part, autocomplete: 'off', ...extra });
    const remove = (/** @type {string} */ kind, /** @type {number} */ i, /** @type {string} */ label) =>
      h('button', { type: 'button', class: 'danger small', 'data-rows': kind, 'data-index': String(i), 'aria-label': label }, ['Remove']);
    const labelled = (/** @type {string} */ id, /** @type {string} */ label, /** @type {HTMLElement} */ control) => {
      control.id = id;
      return h('div', { class: 'field' }, [h('label', { for: id }, [label]), control]);
    };
    this.form.replaceChildren(
      h('div', { class: 'grid' }, [
        field(P, 'name', 'Report name', input(v.name, 'name')),
        field(P, 'groupBy', 'Group by field (optional)', input(v.groupBy, 'groupBy')),
      ]),
      field(P, 'description', 'Description (optional)', h('textarea', { rows: '2', 'data-part': 'description' }, [v.description])),
      field(P, 'jql', 'JQL query', h('textarea', { rows: '3', 'data-part': 'jql', spellcheck: 'false' }, [v.jql])),
      field(P, 'columns', `Fields shown, in order (Jira field ids, comma-separated; at most ${R.MAX_COLUMNS})`, input(v.columns, 'columns')),
      h('h4', {}, ['Sorting']),
      h(
        'ol',
        { class: 'lb-links', id: 'rp-sort' },
        this.rows.sort.map((key, i) =>
          h('li', { class: 'inline', 'data-row': 'sort' }, [
            field(P, `sort[${i}].field`, `Sort ${i + 1}: field`, input(key.field, 'field')),
            labelled(`rp-sort-${i}-direction`, `Sort ${i + 1}: direction`, select(key.direction, ['asc', 'desc'], { asc: 'Ascending', desc: 'Descending' })),
            remove('sort', i, `Remove sort ${i + 1}`),
          ]),
        ),
      ),
      errorFor(P, 'sort'),
      h('button', { type: 'button', class: 'secondary', 'data-rows': 'sort', disabled: this.rows.sort.length >= R.MAX_SORT_KEYS }, ['Add sort key']),
      h('h4', {}, ['Filters']),
      h(
        'ol',
        { class: 'lb-links', id: 'rp-filters' },
        this.rows.filters.map((filter, i) => {
          const operator = select(filter.operator, OPERATORS, OPERATOR_WORDS);
          operator.dataset.part = 'operator';
          const none = valueCount(filter.operator)[1] === 0;
          return h('li', { class: 'inline', 'data-row': 'filters' }, [
            field(P, `filters[${i}].field`, `Filter ${i + 1}: field`, input(filter.field, 'field')),
            labelled(`rp-filters-${i}-operator`, `Filter ${i + 1}: condition`, operator),
            field(P, `filters[${i}].values`, `Filter ${i + 1}: values (comma-separated)`, input(filter.values.join(', '), 'values', { disabled: none })),
            remove('filters', i, `Remove filter ${i + 1}`),
          ]);
        }),
      ),
      errorFor(P, 'filters'),
      h('button', { type: 'button', class: 'secondary', 'data-rows': 'filters', disabled: this.rows.filters.length >= R.MAX_FILTERS }, ['Add filter']),
      h('h4', {}, ['Aggregations']),
      h(
        'ol',
        { class: 'lb-links', id: 'rp-aggregations' },
        this.rows.aggregations.map((aggregation, i) => {
          const fn = select(aggregation.function, FUNCTIONS);
          fn.dataset.part = 'function';
          return h('li', { class: 'inline', 'data-row': 'aggregations' }, [
            labelled(`rp-aggregations-${i}-function`, `Aggregation ${i + 1}: function`, fn),
            field(P, `aggregations[${i}].field`, `Aggregation ${i + 1}: field ("issue" counts issues)`, input(aggregation.field, 'field')),
            remove('aggregations', i, `Remove aggregation ${i + 1}`),
          ]);
        }),
      ),
      errorFor(P, 'aggregations'),
      h('button', { type: 'button', class: 'secondary', 'data-rows': 'aggregations', disabled: this.rows.aggregations.length >= R.MAX_AGGREGATIONS }, ['Add aggregation']),
      errorFor(P, ''),
      h('div', { class: 'actions' }, [
        h('button', { type: 'submit', id: 'rp-save' }, ['Save report']),
        h('button', { type: 'button', class: 'secondary', id: 'rp-new' }, ['New report']),
      ]),
    );
    byId('rp-new').addEventListener('click', () => this.edit(null));
    this.refresh();
  }

  /** Reads the form back into `values` and `rows`. */
  readRows() {
    const part = (/** @type {ParentNode} */ root, /** @type {string} */ name) => /** @type {HTMLInputElement | null} */ (root.querySelector(`[data-part="${name}"]`))?.value ?? '';
    const top = (/** @type {string} */ name) => part(this.form, name);
    this.values = { name: top('name'), description: top('description'), jql: top('jql'), columns: top('columns'), groupBy: top('groupBy') };
    const rows = (/** @type {string} */ kind) => [...this.form.querySelectorAll(`li[data-row="${kind}"]`)];
    this.rows = {
      sort: rows('sort').map((li) => ({ field: part(li, 'field').trim(), direction: /** @type {HTMLSelectElement} */ (li.querySelector('select')).value })),
      filters: rows('filters').map((li) => {
        const operator = part(li, 'operator');
        return { field: part(li, 'field').trim(), operator, values: valueCount(operator)[1] === 0 ? [] : listOf(part(li, 'values')) };
      }),
      aggregations: rows('aggregations').map((li) => ({ field: part(li, 'field').trim(), function: part(li, 'function') })),
    };
  }

  /** The form as the API's model. */
  draft() {
    const v = this.values;
    /** @type {Record<string, any>} */
    const report = { name: v.name.trim(), jql: v.jql.trim(), columns: listOf(v.columns), sort: this.rows.sort, filters: this.rows.filters, aggregations: this.rows.aggregations };
    if (v.description.trim()) report.description = v.description.trim();
    if (v.groupBy.trim()) report.groupBy = v.groupBy.trim();
    return report;
  }

  refresh() {
    const problems = reportProblems(this.draft());
    for (const [path, problem] of this.server) if (!problems.has(path)) problems.set(path, problem);
    this.problems = problems;
    showProblems(this.form, this.touched ? problems : new Map());
  }

  async save() {
    this.readRows();
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
      const { data } = await this.api.json('POST', '/api/reports', { body });
      await this.load();
      this.edit(data);
      return say(this.status, `Created report ${data.name}.`, 'ok');
    }
    const path = `/api/reports/${encodeURIComponent(editing.id)}`;
    await guardedSave(this.status, {
      what: 'The report',
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
        say(this.status, `Saved report ${stored.name} (version ${stored.version}).`, 'ok');
      },
    });
  }

  /** @param {any} item */
  async remove(item) {
    const path = `/api/reports/${encodeURIComponent(item.id)}`;
    await guardedSave(this.status, {
      what: 'The report',
      read: item,
      send: (headers) => this.api.json('DELETE', path, { headers }),
      latest: () => this.api.get(path),
      reload: () => this.load(),
      saved: async () => {
        if (this.editing?.id === item.id) this.edit(null);
        await this.load();
        say(this.status, `Deleted report ${item.name} (restorable from the trash for 30 days).`, 'ok');
        this.root.dispatchEvent(new CustomEvent('content-deleted', { bubbles: true }));
      },
    });
  }
}
