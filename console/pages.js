// @ts-check
/**
 * Page metadata: what a site adds to a Confluence page, its featured image (from the media
 * library or a new upload) and its text (description). A page is picked by its id (the console
 * reads no Confluence content, so no title search); pages that have metadata are listed to open
 * again. Saving and removing send `If-Match`.
 */

import { ApiError } from './api.js';
import * as check from './bounds.js';
import { guardedSave } from './conflict.js';
import { byId, h, say } from './dom.js';
import { field, focusFirstProblem, serverProblem, showProblems } from './fields.js';
import { imageLibrary, mediaUrl, uploadImage } from './media.js';

/** `shared/src/domain/content/model/page_metadata.rs` (a unit test compares). */
export const PAGE_BOUNDS = { MAX_DESCRIPTION_CHARS: 1000 };
const P = 'pm';

/**
 * The problems of page metadata, by the API's path.
 * @param {{featuredImageMediaId?: string, description?: string}} metadata
 */
export function pageProblems(metadata) {
  /** @type {Map<string, string>} */
  const problems = new Map();
  if (metadata.featuredImageMediaId === undefined && metadata.description === undefined) {
    problems.set('featuredImageMediaId', 'missing, and so is description; give at least one');
  }
  if (metadata.featuredImageMediaId !== undefined) check.note(problems, 'featuredImageMediaId', check.contentId(metadata.featuredImageMediaId));
  if (metadata.description !== undefined) {
    check.note(problems, 'description', metadata.description.trim() ? check.multiLine(metadata.description, PAGE_BOUNDS.MAX_DESCRIPTION_CHARS) : 'empty');
  }
  return problems;
}

export class PageMetadata {
  /** @param {import('./api.js').Api} api */
  constructor(api) {
    this.api = api;
    this.root = byId('pages-screen');
    /** @type {string} the page being edited */
    this.pageId = '';
    /** @type {any | null} its stored metadata */
    this.stored = null;
    /** @type {any[]} */
    this.images = [];
    /** @type {Map<string, string>} */
    this.problems = new Map();
    /** @type {Map<string, string>} */
    this.server = new Map();
    this.touched = false;
    this.list = h('ul', { id: 'pm-list', class: 'rows', 'aria-label': 'Pages with metadata' });
    this.picker = /** @type {HTMLFormElement} */ (h('form', { id: 'pm-pick', class: 'inline', novalidate: true }));
    this.image = /** @type {HTMLSelectElement} */ (h('select', {}));
    this.thumb = /** @type {HTMLImageElement} */ (h('img', { class: 'pm-thumb', alt: '', hidden: true }));
    this.form = /** @type {HTMLFormElement} */ (h('form', { id: 'pm-form', novalidate: true, hidden: true }));
    this.status = h('p', { id: 'pm-status', class: 'status', role: 'status' });
    this.heading = h('h3', { id: 'pm-heading' }, ['Page']);
    this.picker.append(
      field(P, 'pageId', 'Confluence page id', h('input', { inputmode: 'numeric', autocomplete: 'off' })),
      h('button', { type: 'submit' }, ['Open page']),
    );
    this.form.append(
      this.heading,
      field(P, 'featuredImageMediaId', 'Featured image (media library)', this.image),
      this.thumb,
      h('div', { class: 'inline' }, [
        h('div', { class: 'field' }, [h('label', { for: 'pm-file' }, ['Or upload a new image (PNG, JPEG, GIF or WebP, at most 5 MiB)']), h('input', { type: 'file', id: 'pm-file', accept: 'image/png,image/jpeg,image/gif,image/webp' })]),
        h('button', { type: 'button', class: 'secondary', id: 'pm-upload' }, ['Upload image']),
      ]),
      field(P, 'description', `Text (the page's description and card text, at most ${PAGE_BOUNDS.MAX_DESCRIPTION_CHARS} characters)`, h('textarea', { rows: '3' })),
      h('div', { class: 'actions' }, [
        h('button', { type: 'submit', id: 'pm-save' }, ['Save page metadata']),
        h('button', { type: 'button', class: 'danger', id: 'pm-delete' }, ['Remove page metadata']),
      ]),
    );
    this.root.replaceChildren(
      h('h2', { id: 'pages-heading' }, ['Page metadata']),
      h('p', {}, ['A featured image and text that sites show with a Confluence page. Pick the page by its id.']),
      this.list,
      this.picker,
      this.form,
      this.status,
    );
    this.picker.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.run(() => this.open(/** @type {HTMLInputElement} */ (this.picker.querySelector('[data-path="pageId"]')).value.trim()));
    });
    this.list.addEventListener('click', (event) => {
      const button = event.target instanceof Element ? event.target.closest('button[data-page]') : null;
      if (button) void this.run(() => this.open(String(button.getAttribute('data-page'))));
    });
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
    byId('pm-upload', HTMLButtonElement).addEventListener('click', () => void this.run(() => this.upload()));
    byId('pm-delete', HTMLButtonElement).addEventListener('click', () => void this.run(() => this.remove()));
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

  async load() {
    const [page, images] = await Promise.all([this.api.get('/api/pages?limit=200'), imageLibrary(this.api)]);
    this.images = images;
    this.list.replaceChildren(
      ...page.items.map((/** @type {any} */ item) =>
        h('li', {}, [
          h('span', {}, [h('strong', {}, [`Page ${item.id}`]), ' ', h('span', { class: 'meta' }, [[item.featuredImageMediaId ? 'featured image' : '', item.description ? `“${item.description.slice(0, 60)}”` : ''].filter(Boolean).join(', ')])]),
          h('button', { type: 'button', class: 'secondary', 'data-page': item.id, 'aria-label': `Open page ${item.id}` }, ['Open']),
        ]),
      ),
    );
    if (!page.items.length) this.list.append(h('li', {}, ['No page has metadata yet.']));
    this.fillImages(this.stored?.featuredImageMediaId ?? this.image.value);
  }

  /** @param {string} chosen */
  fillImages(chosen) {
    this.image.replaceChildren(h('option', { value: '' }, ['No featured image']), ...this.images.map((m) => h('option', { value: m.id }, [m.fileName ?? m.id])));
    if (chosen && !this.images.some((m) => m.id === chosen)) this.image.append(h('option', { value: chosen }, [chosen]));
    this.image.value = chosen;
    void this.showThumb();
  }

  async showThumb() {
    const id = this.image.value;
    this.thumb.hidden = !id;
    if (id) {
      this.thumb.src = await mediaUrl(this.api, id);
      this.thumb.alt = `Featured image of page ${this.pageId}`;
    }
  }

  /** @param {string} pageId */
  async open(pageId) {
    this.server = new Map();
    const problem = check.pageId(pageId);
    const picked = /** @type {HTMLInputElement} */ (this.picker.querySelector('[data-path="pageId"]'));
    picked.value = pageId;
    showProblems(this.picker, new Map(problem ? [['pageId', problem]] : []));
    if (problem) return picked.focus();
    const response = await this.api.send('GET', `/api/pages/${encodeURIComponent(pageId)}/metadata`);
    if (response.status === 404) this.stored = null;
    else if (response.ok) this.stored = await response.json();
    else throw new ApiError(response.status, `http_${response.status}`, 'The page metadata could not be read.');
    this.pageId = pageId;
    this.touched = false;
    this.form.hidden = false;
    this.heading.textContent = `Page ${pageId}`;
    /** @type {HTMLTextAreaElement} */ (this.form.querySelector('[data-path="description"]')).value = this.stored?.description ?? '';
    this.fillImages(this.stored?.featuredImageMediaId ?? '');
    byId('pm-delete', HTMLButtonElement).disabled = !this.stored;
    this.refresh();
    say(this.status, this.stored ? `Page ${pageId}: metadata version ${this.stored.version}.` : `Page ${pageId} has no metadata yet: saving adds it.`);
  }

  draft() {
    /** @type {{featuredImageMediaId?: string, description?: string}} */
    const metadata = {};
    if (this.image.value) metadata.featuredImageMediaId = this.image.value;
    const description = /** @type {HTMLTextAreaElement} */ (this.form.querySelector('[data-path="description"]')).value;
    if (description.trim()) metadata.description = description.trim();
    return metadata;
  }

  refresh() {
    const problems = pageProblems(this.draft());
    for (const [path, problem] of this.server) if (!problems.has(path)) problems.set(path, problem);
    this.problems = problems;
    showProblems(this.form, this.touched ? problems : new Map());
    void this.showThumb();
  }

  async upload() {
    const input = byId('pm-file', HTMLInputElement);
    const file = input.files?.[0];
    if (!file) throw new Error('Choose an image file to upload first.');
    say(this.status, `Uploading ${file.name}…`);
    const media = await uploadImage(this.api, file);
    this.images = [media, ...this.images.filter((m) => m.id !== media.id)];
    this.fillImages(media.id);
    input.value = '';
    this.touched = true;
    this.refresh();
    say(this.status, `Uploaded ${file.name} (${media.size} bytes); it is the featured image once you save.`, 'ok');
  }

  async save() {
    this.touched = true;
    this.server = new Map();
    this.refresh();
    if (this.problems.size) {
      focusFirstProblem(this.form);
      return say(this.status, `Not saved: ${[...this.problems].map(([p, m]) => `${p}: ${m}`).join('; ')}.`, 'error');
    }
    const path = `/api/pages/${encodeURIComponent(this.pageId)}/metadata`;
    const body = this.draft();
    await guardedSave(this.status, {
      what: 'The page metadata',
      read: this.stored,
      send: async (headers) => (await this.api.json('PUT', path, { body, headers })).data,
      latest: async () => {
        const response = await this.api.send('GET', path);
        return response.ok ? response.json() : null;
      },
      reload: () => this.open(this.pageId),
      saved: async (stored) => {
        this.stored = stored;
        byId('pm-delete', HTMLButtonElement).disabled = false;
        await this.load();
        say(this.status, `Saved the metadata of page ${this.pageId} (version ${stored.version}).`, 'ok');
      },
    });
  }

  async remove() {
    const stored = this.stored;
    if (!stored) return;
    const path = `/api/pages/${encodeURIComponent(this.pageId)}/metadata`;
    await guardedSave(this.status, {
      what: 'The page metadata',
      read: stored,
      send: (headers) => this.api.json('DELETE', path, { headers }),
      latest: () => this.api.get(path),
      reload: () => this.open(this.pageId),
      saved: async () => {
        const pageId = this.pageId;
        await this.open(pageId);
        await this.load();
        say(this.status, `Removed the metadata of page ${pageId} (restorable from the trash for 30 days).`, 'ok');
        this.root.dispatchEvent(new CustomEvent('content-deleted', { bubbles: true }));
      },
    });
  }
}
