// @ts-check
/**
 * The layout builder: a site's home layout (or any layout of the tenant) as sections of columns
 * of blocks. Everything is added, changed, moved and removed in the form; moves work with the
 * buttons, with Alt+arrow keys on a move handle, and by dragging the handle. Every field shows
 * its problem under the API's bounds as it is typed (and the API's own 422, at the field it
 * names); a live preview draws the draft as the site will. Saving sends `If-Match`; "Set as home
 * layout" points the site at the saved layout, after which the site preview draws it from the
 * site's config.
 */

import { ApiError, modelOf } from './api.js';
import { splitFieldMessage } from './bounds.js';
import { guardedSave } from './conflict.js';
import { byId, h, say } from './dom.js';
import {
  BLOCK_TYPES,
  LAYOUT_BOUNDS,
  SECTION_PRESETS,
  describeBlock,
  listAt,
  moveBlock,
  moveWithin,
  neighbourColumn,
  newLayout,
  newSection,
  problemsOf,
  splitItemPath,
} from './layoutmodel.js';
import { renderLayout } from './layoutview.js';
import { imageLibrary, mediaUrl, uploadImage } from './media.js';

/** @typedef {import('./layoutmodel.js').Layout} Layout */
/** @typedef {import('./layoutmodel.js').Block} Block */

/** A DOM id for a model path (`sections[0].columns[1]` → `lb-sections-0-columns-1`). */
function idOf(/** @type {string} */ path) {
  return `lb-${path.replace(/[^A-Za-z0-9]+/g, '-').replace(/-$/, '')}`;
}

/**
 * Sets the value a path names (`sections[0].columns[1].width`); `undefined` removes the field.
 * @param {any} root
 * @param {string} path
 * @param {unknown} value
 */
function setAt(root, path, value) {
  const parts = (path.match(/[A-Za-z]+|\d+/g) ?? []).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const last = parts.pop();
  if (last === undefined) return;
  let node = root;
  for (const part of parts) node = node[part];
  if (value === undefined) delete node[last];
  else node[last] = value;
}

export class LayoutBuilder {
  /**
   * @param {import('./api.js').Api} api
   * @param {import('./preview.js').Preview} sitePreview
   * @param {{get: () => any, set: (site: any) => void}} siteRef the chosen site, shared with the
   *   other editors (any of them may save it, so its version is read from there)
   */
  constructor(api, sitePreview, siteRef) {
    this.api = api;
    this.sitePreview = sitePreview;
    this.siteRef = siteRef;
    this.root = byId('layout-screen');
    /** @type {any[]} */
    this.layouts = [];
    /** @type {any[]} */
    this.images = [];
    /** @type {any | null} the stored layout the draft came from */
    this.stored = null;
    /** @type {Layout} */
    this.draft = newLayout();
    /** @type {Map<string, string>} the API's answer to the last save, by path */
    this.serverProblems = new Map();
    /** @type {{kind: 'block' | 'section', path: string} | null} */
    this.dragging = null;
    /** @type {Map<string, string>} */
    this.problems = new Map();
    this.status = h('p', { id: 'layout-status', class: 'status', role: 'status' });
    this.homeLine = h('p', { id: 'layout-home', class: 'meta' });
    this.picker = /** @type {HTMLSelectElement} */ (h('select', { id: 'layout-pick' }));
    this.form = /** @type {HTMLFormElement} */ (h('form', { id: 'layout-form', novalidate: true }));
    this.live = h('div', { id: 'layout-live', class: 'site layout-live', 'aria-label': 'Live preview of the layout being edited', role: 'region' });
    this.build();
  }

  /** @returns {any} */
  get site() {
    return this.siteRef.get();
  }

  set site(site) {
    this.siteRef.set(site);
  }

  build() {
    this.root.replaceChildren(
      h('h2', { id: 'layout-heading' }, ['Home layout of ', h('span', { class: 'site-name' })]),
      this.homeLine,
      h('div', { class: 'inline' }, [
        h('div', { class: 'field' }, [h('label', { for: 'layout-pick' }, ['Layouts of this tenant']), this.picker]),
        h('button', { type: 'button', class: 'secondary', id: 'layout-open' }, ['Open layout']),
        h('button', { type: 'button', class: 'secondary', id: 'layout-new' }, ['New layout']),
      ]),
      this.form,
      this.status,
      h('h3', {}, ['Live preview']),
      h('p', { class: 'meta' }, ['The draft as the site draws it, updated as you type.']),
      this.live,
    );
    byId('layout-open').addEventListener('click', () => void this.run(() => this.open(this.picker.value)));
    byId('layout-new').addEventListener('click', () => void this.run(async () => this.start(null, newLayout(), 'A new layout: saving creates it.')));
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.run(() => this.save());
    });
    this.form.addEventListener('input', (event) => this.edited(event.target));
    this.form.addEventListener('change', (event) => this.edited(event.target));
    this.form.addEventListener('click', (event) => {
      const button = event.target instanceof Element ? event.target.closest('button[data-action]') : null;
      if (button) void this.run(() => this.act(String(button.getAttribute('data-action')), String(button.getAttribute('data-path') ?? '')));
    });
    this.form.addEventListener('keydown', (event) => this.keyMove(event));
    this.form.addEventListener('dragstart', (event) => {
      const handle = event.target instanceof Element ? event.target.closest('[data-drag]') : null;
      if (!handle || !event.dataTransfer) return;
      this.dragging = { kind: /** @type {'block' | 'section'} */ (handle.getAttribute('data-drag')), path: String(handle.getAttribute('data-path')) };
      event.dataTransfer.setData('text/plain', this.dragging.path);
      event.dataTransfer.effectAllowed = 'move';
    });
    this.form.addEventListener('dragover', (event) => {
      if (this.dropTarget(event)) event.preventDefault();
    });
    this.form.addEventListener('drop', (event) => {
      const target = this.dropTarget(event);
      if (!target) return;
      event.preventDefault();
      this.drop(target);
    });
    this.form.addEventListener('dragend', () => {
      this.dragging = null;
    });
  }

  /** @param {() => Promise<unknown>} action */
  async run(action) {
    try {
      await action();
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) this.showServerProblem(error.message);
      else say(this.status, error instanceof Error ? `${error.message}${error instanceof ApiError ? ` (${error.status} ${error.code})` : ''}` : String(error), 'error');
    }
  }

  /**
   * A site was chosen: its home layout opens (a new draft when it has none).
   * @param {any} site
   */
  async showSite(site) {
    this.site = site;
    const [layouts, images] = await Promise.all([this.api.get('/api/layouts?limit=200'), imageLibrary(this.api)]);
    this.layouts = layouts.items;
    this.images = images;
    this.fillPicker();
    if (site.homeLayoutId) await this.open(site.homeLayoutId);
    else this.start(null, newLayout(), 'This site has no home layout yet: build one, save it, then set it as the home layout.');
  }

  fillPicker() {
    this.picker.replaceChildren(
      ...this.layouts.map((l) => h('option', { value: l.id }, [`${l.title}${l.id === this.site?.homeLayoutId ? ' (home)' : ''}`])),
    );
    if (!this.layouts.length) this.picker.append(h('option', { value: '' }, ['No layouts yet']));
    if (this.stored) this.picker.value = this.stored.id;
    this.homeLine.textContent = this.site?.homeLayoutId
      ? `Home layout: ${this.layouts.find((l) => l.id === this.site.homeLayoutId)?.title ?? this.site.homeLayoutId}.`
      : 'This site has no home layout yet.';
  }

  /** @param {string} id */
  async open(id) {
    if (!id) throw new Error('Choose a layout first.');
    const stored = await this.api.get(`/api/layouts/${encodeURIComponent(id)}`);
    this.start(stored, /** @type {Layout} */ (modelOf(stored)), `Opened ${stored.title} (version ${stored.version}).`);
  }

  /**
   * @param {any | null} stored
   * @param {Layout} draft
   * @param {string} message
   */
  start(stored, draft, message) {
    this.stored = stored;
    this.draft = { title: draft.title, sections: draft.sections ?? [] };
    this.serverProblems.clear();
    this.render();
    this.fillPicker();
    say(this.status, message);
  }

  // Drawing.

  render() {
    const d = this.draft;
    const title = this.field('title', 'Layout title', h('input', { value: d.title, required: true }));
    const presets = /** @type {HTMLSelectElement} */ (
      h('select', { id: 'lb-preset' }, SECTION_PRESETS.map((widths) => h('option', { value: widths.join('+') }, [widths.join(' + ')])))
    );
    this.form.replaceChildren(
      title,
      this.errorFor('sections'),
      this.errorFor(''),
      h('ol', { class: 'lb-sections', 'aria-label': 'Sections' }, d.sections.map((section, i) => this.sectionNode(section, i))),
      h('div', { class: 'inline' }, [
        h('div', { class: 'field' }, [h('label', { for: 'lb-preset' }, ['Columns of a new section']), presets]),
        h('button', { type: 'button', class: 'secondary', 'data-action': 'add-section' }, ['Add section']),
      ]),
      h('div', { class: 'actions' }, [
        h('button', { type: 'submit' }, ['Save layout']),
        h('button', { type: 'button', class: 'secondary', 'data-action': 'set-home', disabled: !this.stored }, ['Set as home layout']),
        h('button', { type: 'button', class: 'danger', 'data-action': 'delete-layout', disabled: !this.stored }, ['Delete layout']),
      ]),
    );
    this.refreshProblems();
  }

  /**
   * A labelled control bound to `path`, with its message under it.
   * @param {string} path
   * @param {string} label
   * @param {HTMLElement} control
   * @param {string} [kind] how the value is stored: text (default), optional (empty removes it), list (comma-separated), number
   */
  field(path, label, control, kind = 'text') {
    const id = idOf(path);
    control.id = id;
    control.setAttribute('data-path', path);
    control.setAttribute('data-kind', kind);
    control.setAttribute('aria-describedby', `${id}-error`);
    return h('div', { class: 'field' }, [h('label', { for: id }, [label]), control, this.errorFor(path)]);
  }

  /** @param {string} path */
  errorFor(path) {
    return h('p', { class: 'field-error', id: `${idOf(path || 'layout')}-error`, 'data-error-for': path });
  }

  /**
   * @param {import('./layoutmodel.js').Section} section
   * @param {number} i
   */
  sectionNode(section, i) {
    const path = `sections[${i}]`;
    const name = `section ${i + 1}`;
    const hasBackground = section.background?.color !== undefined;
    const colour = h('input', { type: 'color', value: (section.background?.color ?? '#f4f5f7').slice(0, 7), disabled: !hasBackground });
    return h('li', { class: 'lb-section', 'data-item': path }, [
      h('div', { class: 'lb-bar' }, [
        h('h3', {}, [`Section ${i + 1}`]),
        this.handle('section', path, `Move ${name}`),
        this.button('up', path, `Move ${name} up`, '↑', i === 0),
        this.button('down', path, `Move ${name} down`, '↓', i === this.draft.sections.length - 1),
        this.button('remove', path, `Remove ${name}`, 'Remove', false, 'danger'),
      ]),
      h('div', { class: 'inline' }, [
        h('div', { class: 'field check' }, [
          h('input', { type: 'checkbox', id: `${idOf(path)}-has-bg`, 'data-background': path, checked: hasBackground }),
          h('label', { for: `${idOf(path)}-has-bg` }, [`Background colour for ${name}`]),
        ]),
        this.field(`${path}.background.color`, `Colour of ${name}`, colour),
      ]),
      this.errorFor(`${path}.columns`),
      h('div', { class: 'lb-columns' }, section.columns.map((column, j) => this.columnNode(section, column, i, j))),
      h('button', { type: 'button', class: 'secondary', 'data-action': 'add-column', 'data-path': path, 'aria-label': `Add a column to ${name}`, disabled: section.columns.length >= LAYOUT_BOUNDS.MAX_COLUMNS }, ['Add column']),
    ]);
  }

  /**
   * @param {import('./layoutmodel.js').Section} section
   * @param {import('./layoutmodel.js').Column} column
   * @param {number} i
   * @param {number} j
   */
  columnNode(section, column, i, j) {
    const path = `sections[${i}].columns[${j}]`;
    const name = `column ${j + 1} of section ${i + 1}`;
    const width = h('input', { type: 'number', min: '1', max: String(LAYOUT_BOUNDS.GRID_WIDTH), step: '1', value: String(column.width) });
    return h('div', { class: `lb-column w-${Math.min(Math.max(column.width, 1), 12)}`, 'data-item': path }, [
      h('div', { class: 'lb-bar' }, [
        h('strong', {}, [`Column ${j + 1}`]),
        this.button('up', path, `Move ${name} left`, '←', j === 0),
        this.button('down', path, `Move ${name} right`, '→', j === section.columns.length - 1),
        this.button('remove', path, `Remove ${name}`, 'Remove', section.columns.length === 1, 'danger'),
      ]),
      this.field(`${path}.width`, `Width of ${name} (grid units of ${LAYOUT_BOUNDS.GRID_WIDTH})`, width, 'number'),
      this.blockList(`${path}.blocks`, column.blocks, 1, name),
    ]);
  }

  /**
   * @param {string} listPath
   * @param {Block[]} blocks
   * @param {number} depth
   * @param {string} where
   */
  blockList(listPath, blocks, depth, where) {
    const typeId = `${idOf(listPath)}-type`;
    return h('div', { class: 'lb-list' }, [
      h('ol', { class: 'lb-blocks', 'data-list': listPath, 'aria-label': `Blocks of ${where}` }, blocks.map((block, k) => this.blockNode(block, `${listPath}[${k}]`, k, blocks.length, depth))),
      this.errorFor(listPath),
      depth <= LAYOUT_BOUNDS.MAX_BLOCK_DEPTH
        ? h('div', { class: 'inline' }, [
            h('div', { class: 'field' }, [
              h('label', { for: typeId }, [`New block in ${where}`]),
              h('select', { id: typeId }, Object.entries(BLOCK_TYPES).filter(([type]) => type !== 'container' || depth < LAYOUT_BOUNDS.MAX_BLOCK_DEPTH).map(([type, t]) => h('option', { value: type }, [t.label]))),
            ]),
            h('button', { type: 'button', class: 'secondary', 'data-action': 'add-block', 'data-path': listPath, 'aria-label': `Add block to ${where}` }, ['Add block']),
          ])
        : null,
    ]);
  }

  /**
   * @param {Block} block
   * @param {string} path
   * @param {number} k
   * @param {number} count
   * @param {number} depth
   */
  blockNode(block, path, k, count, depth) {
    const name = describeBlock(path, block);
    const inColumn = depth === 1;
    return h('li', { class: 'lb-block', 'data-item': path }, [
      h('div', { class: 'lb-bar' }, [
        h('strong', {}, [BLOCK_TYPES[/** @type {keyof BLOCK_TYPES} */ (block.type)]?.label ?? block.type]),
        this.handle('block', path, `Move ${name}`),
        this.button('up', path, `Move ${name} up`, '↑', k === 0),
        this.button('down', path, `Move ${name} down`, '↓', k === count - 1),
        inColumn ? this.button('left', path, `Move ${name} to the column on the left`, '←', !neighbourColumn(this.draft, path, -1)) : null,
        inColumn ? this.button('right', path, `Move ${name} to the column on the right`, '→', !neighbourColumn(this.draft, path, 1)) : null,
        this.button('remove', path, `Remove ${name}`, 'Remove', false, 'danger'),
      ]),
      this.errorFor(path),
      ...this.blockFields(block, path, name, depth),
    ]);
  }

  /**
   * Each block type's own form.
   * @param {Block} block
   * @param {string} path
   * @param {string} name
   * @param {number} depth
   * @returns {(HTMLElement | null)[]}
   */
  blockFields(block, path, name, depth) {
    const input = (/** @type {string | undefined} */ value, /** @type {Record<string, string>} */ extra = {}) => h('input', { value: value ?? '', ...extra });
    switch (block.type) {
      case 'text':
        return [this.field(`${path}.markup`, `Text of ${name} (**bold**, _italic_, [label](https://…))`, h('textarea', { rows: '3' }, [block.markup]))];
      case 'image': {
        const options = [h('option', { value: '' }, ['Choose an image…']), ...this.images.map((m) => h('option', { value: m.id }, [m.fileName ?? m.id]))];
        if (block.mediaId && !this.images.some((m) => m.id === block.mediaId)) options.push(h('option', { value: block.mediaId }, [block.mediaId]));
        const select = h('select', {}, options);
        /** @type {HTMLSelectElement} */ (select).value = block.mediaId;
        const fileId = `${idOf(path)}-file`;
        return [
          this.field(`${path}.mediaId`, `Image of ${name} (media library)`, select),
          h('div', { class: 'inline' }, [
            h('div', { class: 'field' }, [h('label', { for: fileId }, [`Or upload a new image (PNG, JPEG, GIF or WebP, at most 5 MiB)`]), h('input', { type: 'file', id: fileId, accept: 'image/png,image/jpeg,image/gif,image/webp' })]),
            h('button', { type: 'button', class: 'secondary', 'data-action': 'upload', 'data-path': path, 'aria-label': `Upload the image for ${name}` }, ['Upload']),
          ]),
          this.field(`${path}.alt`, `Alternative text of ${name} (empty for a decorative image)`, input(block.alt)),
          this.field(`${path}.link`, `Link of ${name} (optional, https://…)`, input(block.link, { type: 'url' }), 'optional'),
        ];
      }
      case 'pageList':
        return [
          this.field(`${path}.spaceKey`, `Space key of ${name} (optional)`, input(block.spaceKey), 'optional'),
          this.field(`${path}.parentPageId`, `Parent page id of ${name} (optional)`, input(block.parentPageId, { inputmode: 'numeric' }), 'optional'),
          this.field(`${path}.labels`, `Labels of ${name} (comma-separated)`, input(block.labels.join(', ')), 'list'),
          this.field(`${path}.limit`, `Pages shown by ${name} (1 to ${LAYOUT_BOUNDS.MAX_PAGE_LIST_LIMIT})`, input(String(block.limit), { type: 'number', min: '1', max: String(LAYOUT_BOUNDS.MAX_PAGE_LIST_LIMIT) }), 'number'),
        ];
      case 'spaceList':
        return [this.field(`${path}.spaceKeys`, `Space keys of ${name} (comma-separated; empty: the site's spaces)`, input(block.spaceKeys.join(', ')), 'list')];
      case 'links':
        return [
          h(
            'ol',
            { class: 'lb-links' },
            block.items.map((/** @type {{label: string, url: string}} */ link, /** @type {number} */ i) =>
              h('li', { class: 'inline' }, [
                this.field(`${path}.items[${i}].label`, `Label of link ${i + 1} of ${name}`, input(link.label)),
                this.field(`${path}.items[${i}].url`, `Address of link ${i + 1} of ${name}`, input(link.url, { type: 'url' })),
                this.button('remove', `${path}.items[${i}]`, `Remove link ${i + 1} of ${name}`, 'Remove link', false, 'danger'),
              ]),
            ),
          ),
          this.errorFor(`${path}.items`),
          h('button', { type: 'button', class: 'secondary', 'data-action': 'add-link', 'data-path': `${path}.items`, 'aria-label': `Add a link to ${name}`, disabled: block.items.length >= LAYOUT_BOUNDS.MAX_LINKS }, ['Add link']),
        ];
      case 'searchBox':
        return [this.field(`${path}.placeholder`, `Placeholder of ${name} (optional)`, input(block.placeholder), 'optional')];
      case 'announcements':
        return [h('p', { class: 'meta' }, ['Shows the site’s announcements that are active when a visitor comes.'])];
      case 'container':
        return [this.blockList(`${path}.blocks`, block.blocks, depth + 1, `the container ${name}`)];
      default:
        return [h('p', { class: 'meta' }, [`A ${block.type} block (kept as it is).`])];
    }
  }

  /**
   * @param {string} action
   * @param {string} path
   * @param {string} label
   * @param {string} text
   * @param {boolean} disabled
   * @param {string} [kind]
   */
  button(action, path, label, text, disabled, kind = 'secondary') {
    return h('button', { type: 'button', class: `${kind} small`, 'data-action': action, 'data-path': path, 'aria-label': label, disabled }, [text]);
  }

  /**
   * The move handle: focus it and use Alt+arrow keys, or drag it.
   * @param {'block' | 'section'} kind
   * @param {string} path
   * @param {string} label
   */
  handle(kind, path, label) {
    const keys = kind === 'block' ? 'Alt+ArrowUp Alt+ArrowDown Alt+ArrowLeft Alt+ArrowRight' : 'Alt+ArrowUp Alt+ArrowDown';
    return h('button', { type: 'button', class: 'secondary small handle', draggable: 'true', 'data-drag': kind, 'data-path': path, 'data-action': 'handle', 'aria-keyshortcuts': keys, 'aria-label': `${label} (drag, or Alt and arrow keys)` }, ['⠿ Move']);
  }

  // Editing.

  /** @param {EventTarget | null} target */
  edited(target) {
    if (!(target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement)) return;
    const background = target.getAttribute('data-background');
    if (background !== null && target instanceof HTMLInputElement) {
      const section = listAt(this.draft, 'sections')[splitItemPath(background).index];
      if (target.checked) section.background = { ...section.background, color: '#f4f5f7' };
      else if (section.background) {
        delete section.background.color;
        if (!section.background.imageMediaId) delete section.background;
      }
      this.render();
      return this.changed();
    }
    const path = target.getAttribute('data-path');
    if (path === null) return;
    const value = target.value;
    switch (target.getAttribute('data-kind')) {
      case 'optional':
        setAt(this.draft, path, value.trim() ? value.trim() : undefined);
        break;
      case 'list':
        setAt(this.draft, path, value.split(',').map((v) => v.trim()).filter(Boolean));
        break;
      case 'number':
        setAt(this.draft, path, value === '' ? Number.NaN : Number(value));
        break;
      default:
        setAt(this.draft, path, value);
    }
    this.serverProblems.delete(path);
    // Column widths change the column's drawn width, so the column redraws its class.
    if (path.endsWith('.width')) {
      const column = target.closest('.lb-column');
      const width = Number(value);
      if (column && Number.isInteger(width)) column.className = `lb-column w-${Math.min(Math.max(width, 1), 12)}`;
    }
    this.changed();
  }

  changed() {
    this.refreshProblems();
    this.drawLive();
  }

  /** Every field's message (the form's own checks, then the API's last answer). */
  refreshProblems() {
    const problems = problemsOf(this.draft);
    for (const [path, problem] of this.serverProblems) if (!problems.has(path)) problems.set(path, problem);
    this.problems = problems;
    for (const element of this.form.querySelectorAll('[data-error-for]')) {
      const path = String(element.getAttribute('data-error-for'));
      const problem = problems.get(path) ?? '';
      element.textContent = problem ? `${problem}.` : '';
      const control = this.form.querySelector(`[data-path="${CSS.escape(path)}"][data-kind]`);
      if (control) {
        if (problem) control.setAttribute('aria-invalid', 'true');
        else control.removeAttribute('aria-invalid');
      }
    }
    this.drawLive();
  }

  drawLive() {
    const context = { mediaUrl: (/** @type {string} */ id) => mediaUrl(this.api, id), announcements: this.sitePreview.config?.announcements ?? [] };
    this.live.replaceChildren(renderLayout(this.draft, context));
  }

  /**
   * @param {string} action
   * @param {string} path
   */
  async act(action, path) {
    const d = this.draft;
    /** @type {string | null} where focus goes after the redraw */
    let focus = null;
    let message = '';
    switch (action) {
      case 'handle':
        say(this.status, 'Use Alt and the arrow keys to move it, or drag it.');
        return;
      case 'add-section': {
        if (d.sections.length >= LAYOUT_BOUNDS.MAX_SECTIONS) throw new Error(`A layout has at most ${LAYOUT_BOUNDS.MAX_SECTIONS} sections.`);
        const widths = byId('lb-preset', HTMLSelectElement).value.split('+').map(Number);
        d.sections.push(newSection(widths));
        focus = `sections[${d.sections.length - 1}]`;
        message = `Added section ${d.sections.length} (${widths.join(' + ')}).`;
        break;
      }
      case 'add-column': {
        const section = d.sections[splitItemPath(path).index];
        const used = section.columns.reduce((sum, c) => sum + c.width, 0);
        section.columns.push({ width: Math.max(1, LAYOUT_BOUNDS.GRID_WIDTH - used), blocks: [] });
        focus = `${path}.columns[${section.columns.length - 1}].width`;
        message = `Added column ${section.columns.length}.`;
        break;
      }
      case 'add-block': {
        const type = byId(`${idOf(path)}-type`, HTMLSelectElement).value;
        const list = listAt(d, path);
        if (list.length >= LAYOUT_BOUNDS.MAX_BLOCKS_PER_LIST) throw new Error(`A column or container holds at most ${LAYOUT_BOUNDS.MAX_BLOCKS_PER_LIST} blocks.`);
        list.push(BLOCK_TYPES[/** @type {keyof BLOCK_TYPES} */ (type)].make());
        focus = `${path}[${list.length - 1}]`;
        message = `Added a ${BLOCK_TYPES[/** @type {keyof BLOCK_TYPES} */ (type)].label} block.`;
        break;
      }
      case 'add-link': {
        listAt(d, path).push({ label: '', url: '' });
        focus = `${path}[${listAt(d, path).length - 1}].label`;
        break;
      }
      case 'remove': {
        const { list, index } = splitItemPath(path);
        listAt(d, list).splice(index, 1);
        message = 'Removed (not saved yet).';
        break;
      }
      case 'up':
      case 'down':
        focus = moveWithin(d, path, action === 'up' ? -1 : 1);
        message = focus ? `Moved to position ${splitItemPath(focus).index + 1}.` : '';
        if (focus) focus = `${focus}#${action}`;
        break;
      case 'left':
      case 'right': {
        const target = neighbourColumn(d, path, action === 'left' ? -1 : 1);
        focus = target && moveBlock(d, path, target, listAt(d, target).length);
        message = focus ? `Moved to ${describeBlock(focus, listAt(d, splitItemPath(focus).list)[splitItemPath(focus).index])}.` : '';
        if (focus) focus = `${focus}#${action}`;
        break;
      }
      case 'upload':
        return this.upload(path);
      case 'set-home':
        return this.setHome();
      case 'delete-layout':
        return this.remove();
      default:
        return;
    }
    this.render();
    this.refocus(focus);
    if (message) say(this.status, message);
  }

  /**
   * Focus after a redraw: a field by path, an item's handle (or first control), or the button
   * that was pressed (`path#action`) when it is still enabled.
   * @param {string | null} target
   */
  refocus(target) {
    if (!target) return;
    const [path, action] = target.split('#');
    const item = this.form.querySelector(`[data-item="${CSS.escape(path)}"]`);
    /** @type {HTMLElement | null} */
    let element = null;
    if (action && item) element = item.querySelector(`:scope > .lb-bar [data-action="${action}"]:not([disabled])`) ?? item.querySelector(':scope > .lb-bar .handle');
    else if (item) element = item.querySelector('input, textarea, select, .handle');
    else element = this.form.querySelector(`[data-path="${CSS.escape(path)}"][data-kind]`);
    /** @type {HTMLElement | null} */ (element)?.focus();
  }

  /**
   * Alt+arrow keys on a move handle: up and down in its list; left and right to the next column.
   * @param {KeyboardEvent} event
   */
  keyMove(event) {
    const handle = event.target instanceof Element ? event.target.closest('[data-drag]') : null;
    if (!handle || !event.altKey) return;
    const path = String(handle.getAttribute('data-path'));
    const kind = handle.getAttribute('data-drag');
    let moved = null;
    if (event.key === 'ArrowUp' || event.key === 'ArrowDown') moved = moveWithin(this.draft, path, event.key === 'ArrowUp' ? -1 : 1);
    else if (kind === 'block' && (event.key === 'ArrowLeft' || event.key === 'ArrowRight')) {
      const target = neighbourColumn(this.draft, path, event.key === 'ArrowLeft' ? -1 : 1);
      moved = target && moveBlock(this.draft, path, target, listAt(this.draft, target).length);
    } else return;
    event.preventDefault();
    if (!moved) {
      say(this.status, 'It cannot move further that way.');
      return;
    }
    this.render();
    this.form.querySelector(`[data-item="${CSS.escape(moved)}"] > .lb-bar .handle`)?.setAttribute('data-focus', '');
    /** @type {HTMLElement | null} */ (this.form.querySelector('[data-focus]'))?.focus();
    this.form.querySelector('[data-focus]')?.removeAttribute('data-focus');
    say(this.status, kind === 'block' ? `Moved: now ${describeBlock(moved, listAt(this.draft, splitItemPath(moved).list)[splitItemPath(moved).index])}.` : `Moved: now section ${splitItemPath(moved).index + 1}.`);
  }

  /**
   * Where a dragged item would land: a block (before it) or a block list (at its end) for blocks,
   * a section for sections.
   * @param {DragEvent} event
   * @returns {{list: string, index: number} | null}
   */
  dropTarget(event) {
    if (!this.dragging || !(event.target instanceof Element)) return null;
    if (this.dragging.kind === 'section') {
      const section = event.target.closest('.lb-section');
      return section ? splitItemPath(String(section.getAttribute('data-item'))) : null;
    }
    const block = event.target.closest('.lb-block');
    if (block) return splitItemPath(String(block.getAttribute('data-item')));
    const list = event.target.closest('.lb-column, .lb-list')?.querySelector('[data-list]');
    return list ? { list: String(list.getAttribute('data-list')), index: Number.MAX_SAFE_INTEGER } : null;
  }

  /** @param {{list: string, index: number}} target */
  drop(target) {
    const dragging = this.dragging;
    this.dragging = null;
    if (!dragging) return;
    let moved = null;
    if (dragging.kind === 'section') {
      moved = moveWithin(this.draft, dragging.path, target.index - splitItemPath(dragging.path).index);
    } else {
      moved = moveBlock(this.draft, dragging.path, target.list, target.index);
    }
    if (!moved) return;
    this.render();
    this.refocus(moved);
    say(this.status, dragging.kind === 'section' ? `Moved: now section ${splitItemPath(moved).index + 1}.` : `Moved: now ${describeBlock(moved, listAt(this.draft, splitItemPath(moved).list)[splitItemPath(moved).index])}.`);
  }

  /** @param {string} path an image block */
  async upload(path) {
    const input = byId(`${idOf(path)}-file`, HTMLInputElement);
    const file = input.files?.[0];
    if (!file) throw new Error('Choose an image file to upload first.');
    say(this.status, `Uploading ${file.name}…`);
    const media = await uploadImage(this.api, file);
    this.images = [media, ...this.images.filter((m) => m.id !== media.id)];
    setAt(this.draft, `${path}.mediaId`, media.id);
    this.render();
    this.refocus(`${path}.alt`);
    say(this.status, `Uploaded ${file.name} (${media.size} bytes) to the media library; the block shows it.`, 'ok');
  }

  // Saving.

  /** @param {string} message the API's 422: `path: problem` */
  showServerProblem(message) {
    const { path, problem } = splitFieldMessage(message);
    const known = path && this.form.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
    if (known) {
      this.serverProblems.set(path, problem);
      this.refreshProblems();
      this.refocus(path);
      say(this.status, `Canopy refused the layout: ${message}`, 'error');
    } else {
      say(this.status, `Canopy refused the layout: ${message}`, 'error');
    }
  }

  async save() {
    this.serverProblems.clear();
    this.refreshProblems();
    const problems = this.problems;
    if (problems.size) {
      const [first] = problems.keys();
      this.refocus(first);
      say(this.status, `Not saved: ${problems.size} ${problems.size === 1 ? 'field needs' : 'fields need'} attention (marked in the form).`, 'error');
      return;
    }
    const body = this.draft;
    if (!this.stored) {
      const { data } = await this.api.json('POST', '/api/layouts', { body });
      await this.saved(data, `Created layout ${data.title} (version ${data.version}).`);
      return;
    }
    const path = `/api/layouts/${encodeURIComponent(this.stored.id)}`;
    await guardedSave(this.status, {
      what: 'The layout',
      read: this.stored,
      send: async (headers) => (await this.api.json('PUT', path, { body, headers })).data,
      latest: () => this.api.get(path),
      reload: () => this.open(/** @type {any} */ (this.stored).id),
      saved: (stored) => this.saved(stored, `Saved layout ${stored.title} (version ${stored.version}).`),
    });
  }

  /**
   * @param {any} stored
   * @param {string} message
   */
  async saved(stored, message) {
    this.stored = stored;
    this.layouts = [stored, ...this.layouts.filter((l) => l.id !== stored.id)];
    this.render();
    this.fillPicker();
    say(this.status, message, 'ok');
    if (this.site?.homeLayoutId === stored.id) await this.sitePreview.refresh();
  }

  async setHome() {
    const stored = this.stored;
    if (!stored) throw new Error('Save the layout first.');
    const path = `/api/sites/${encodeURIComponent(this.site.id)}`;
    await guardedSave(this.status, {
      what: 'The site',
      read: this.site,
      send: async (headers) => (await this.api.json('PUT', path, { body: { ...modelOf(this.site), homeLayoutId: stored.id }, headers })).data,
      latest: async () => (this.site = await this.api.get(path)),
      reload: async () => {
        this.site = await this.api.get(path);
        this.fillPicker();
      },
      saved: async (site) => {
        this.site = site;
        this.fillPicker();
        await this.sitePreview.refresh();
        say(this.status, `${stored.title} is now the home layout of ${site.name}.`, 'ok');
      },
    });
  }

  async remove() {
    const stored = this.stored;
    if (!stored) return;
    const path = `/api/layouts/${encodeURIComponent(stored.id)}`;
    await guardedSave(this.status, {
      what: 'The layout',
      read: stored,
      send: (headers) => this.api.json('DELETE', path, { headers }),
      latest: () => this.api.get(path),
      reload: () => this.open(stored.id),
      saved: () => {
        this.layouts = this.layouts.filter((l) => l.id !== stored.id);
        this.start(null, newLayout(), `Deleted layout ${stored.title} (restorable from the trash for 30 days).`);
        say(this.status, `Deleted layout ${stored.title} (restorable from the trash for 30 days).`, 'ok');
        this.root.dispatchEvent(new CustomEvent('content-deleted', { bubbles: true }));
      },
    });
  }
}
