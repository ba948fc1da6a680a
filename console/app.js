// @ts-check
/**
 * The admin console: lists the tenant's sites; for the chosen one edits its theme (with a live
 * preview) and logo, builds its navigation, schedules announcements and shows its feedback; for
 * the tenant, exports its data and moves it to another region. Everything goes through Canopy's
 * API with a context token; uploads go straight to the media store.
 */

import { Api, ApiError, connectTokens, devTokens, errorOf, ifMatch, insideAtlassian, modelOf } from './api.js';
import { guardedSave } from './conflict.js';
import { MIN_TEXT_CONTRAST, contrast } from './colors.js';
import { byId, h, localToRfc3339, say, values, when } from './dom.js';
import { Import } from './import.js';
import { LayoutBuilder } from './layout.js';
import { uploadLogo } from './media.js';
import { addItem, describeBroken, describeTarget, flatten, newId, removeItem, targetOf } from './navigation.js';
import { PageMetadata } from './pages.js';
import { Preview } from './preview.js';
import { Reports } from './reports.js';
import { Residency } from './residency.js';
import { PromotedSearches } from './searches.js';
import { Trash } from './trash.js';

/** The largest page of sites one listing shows (Canopy's page limit). */
const SITES_PAGE = 200;
/** The preview re-reads the config this often (a 304 while nothing changed). */
const PREVIEW_REFRESH_MS = 30_000;

/** A theme for a site that has none yet: readable colours (contrast ≥ 4.5:1). */
const DEFAULT_THEME = {
  colors: { primary: '#0c66e4', background: '#ffffff', text: '#172b4d', link: '#0c66e4', headerBackground: '#0c66e4', headerText: '#ffffff' },
  fonts: { body: 'system-ui, sans-serif' },
};
const COLOR_FIELDS = ['primary', 'background', 'text', 'link', 'headerBackground', 'headerText'];

const alertBox = byId('alert');
// Locally, `?devTenant=<clientKey>` acts as another installed dev tenant (a Jira one, say).
const devTenant = new URLSearchParams(location.search).get('devTenant') || undefined;
const api = new Api(insideAtlassian() ? connectTokens() : devTokens(devTenant), (region, baseUrl) => {
  say(byId('tenant'), `The tenant moved to region ${region}; calls now go to ${baseUrl}.`);
});
const preview = new Preview(api);
const residency = new Residency(api);
const trash = new Trash(api, showRestored);
const searches = new PromotedSearches(api, () => site);
const pages = new PageMetadata(api);
new Import(api, showRestored);
const reports = new Reports(api);
const layouts = new LayoutBuilder(api, preview, {
  get: () => site,
  set: (saved) => {
    site = saved;
  },
});

/** @type {any[]} */
let sites = [];
/** @type {any | null} the chosen site (stored view) */
let site = null;
/** @type {any | null} its theme (stored view), when it has one */
let theme = null;
/** @type {import('./navigation.js').NavItem[]} */
let navItems = [];
/** @type {{version: number} | null} the stored navigation, when there is one */
let navStored = null;
/** @type {Map<string, import('./navigation.js').BrokenEntry>} entries whose target Confluence removed, by id */
let navBroken = new Map();

/** @param {unknown} error */
function message(error) {
  if (error instanceof ApiError) return `${error.message} (${error.status} ${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs `action`, reporting a failure in `status`.
 * @param {HTMLElement} status
 * @param {() => Promise<unknown>} action
 */
async function attempt(status, action) {
  try {
    await action();
  } catch (error) {
    say(status, message(error), 'error');
  }
}

/**
 * Every form's submit goes to `handler` (so Enter in a field works as the button does).
 * @param {string} id
 * @param {(form: HTMLFormElement) => Promise<void>} handler
 */
function onSubmit(id, handler) {
  const form = byId(id, HTMLFormElement);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void handler(form);
  });
}

// Sites.

async function loadSites() {
  const page = await api.get(`/api/sites?limit=${SITES_PAGE}`);
  sites = page.items;
  const list = byId('site-list');
  list.replaceChildren(
    ...sites.map((s) => {
      const chosen = site?.id === s.id;
      return h('li', {}, [
        h('span', {}, [h('strong', {}, [s.name]), ' ', h('span', { class: 'meta' }, [`${s.visibility}, updated ${when(s.updatedAt)}`])]),
        h('button', { type: 'button', class: 'secondary', 'data-site': s.id, 'aria-pressed': chosen ? 'true' : 'false', 'aria-label': `Manage ${s.name}` }, ['Manage']),
      ]);
    }),
  );
  if (!sites.length) list.append(h('li', {}, ['No sites yet: create one below.']));
  if (page.nextCursor) list.append(h('li', {}, [`Only the first ${SITES_PAGE} sites are listed.`]));
}

byId('site-list').addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-site]') : null;
  if (button) void attempt(byId('site-status'), () => chooseSite(String(button.getAttribute('data-site'))));
});

onSubmit('site-form', async (form) => {
  const status = byId('site-status');
  await attempt(status, async () => {
    const { name, visibility } = values(form);
    const { data } = await api.json('POST', '/api/sites', { body: { name: name.trim(), visibility } });
    form.reset();
    say(status, `Created ${data.name}.`, 'ok');
    await chooseSite(data.id);
  });
});

/** @param {string} id */
async function chooseSite(id) {
  site = await api.get(`/api/sites/${encodeURIComponent(id)}`);
  for (const element of document.querySelectorAll('.site-name')) element.textContent = site.name;
  byId('site-panels').hidden = false;
  preview.show(site.id);
  theme = site.themeId ? await api.get(`/api/themes/${encodeURIComponent(site.themeId)}`) : null;
  fillAccessForm();
  fillThemeForm();
  await Promise.all([loadSites(), loadNavigation(), loadAnnouncements(), loadFeedback(), preview.refresh(), layouts.showSite(site), searches.load()]);
  say(byId('site-status'), `Managing ${site.name}.`, 'ok');
}

// Who may see the site: its visibility and, for a restricted site, the groups whose members may.

function accessForm() {
  return byId('access-form', HTMLFormElement);
}

function fillAccessForm() {
  const form = accessForm();
  /** @type {HTMLSelectElement} */ (form.elements.namedItem('visibility')).value = site.visibility;
  /** @type {GroupRef[]} */
  const groups = site.restrictedToGroups ?? [];
  /** @type {HTMLTextAreaElement} */ (form.elements.namedItem('groups')).value = groups.map(groupLine).join('\n');
  byId('access-legacy').hidden = !groups.some((g) => !g.id);
  showAccessGroups();
}

/** @typedef {{id?: string, name?: string}} GroupRef */

/** A prefix marks an entry stored by name only, before groups were kept by id. */
const BY_NAME = 'by name:';

/** @param {GroupRef} group */
function groupLine(group) {
  return group.id ? [group.id, group.name ?? ''].join(' ').trim() : `${BY_NAME} ${group.name ?? ''}`;
}

/**
 * One line of the groups field: the group id, then its display name; `by name: …` keeps an entry
 * stored by name only (the API accepts it only while the site already has it).
 * @param {string} line
 * @returns {GroupRef}
 */
function parseGroupLine(line) {
  const text = line.trim();
  if (text.toLowerCase().startsWith(BY_NAME)) return { name: text.slice(BY_NAME.length).trim() };
  const [id, ...name] = text.split(/\s+/);
  return name.length ? { id, name: name.join(' ') } : { id };
}

/** The groups matter only to a restricted site; the API refuses them on any other. */
function showAccessGroups() {
  const form = accessForm();
  const restricted = /** @type {HTMLSelectElement} */ (form.elements.namedItem('visibility')).value === 'restricted';
  /** @type {HTMLTextAreaElement} */ (form.elements.namedItem('groups')).disabled = !restricted;
}

/** @param {{visibility: string, restrictedToGroups?: GroupRef[]}} stored */
function describeAccess(stored) {
  if (stored.visibility === 'public') return 'everyone may see it';
  if (stored.visibility === 'licensed') return 'signed-in users may see it';
  return `members of ${(stored.restrictedToGroups ?? []).map((g) => g.name ?? g.id).join(', ')} may see it`;
}

accessForm().addEventListener('change', showAccessGroups);

onSubmit('access-form', async (form) => {
  const status = byId('access-status');
  await attempt(status, async () => {
    const { visibility, groups = '' } = values(form);
    const restrictedToGroups = visibility === 'restricted' ? groups.split('\n').filter((g) => g.trim()).map(parseGroupLine) : [];
    const path = `/api/sites/${encodeURIComponent(site.id)}`;
    await guardedSave(status, {
      what: 'The site',
      read: site,
      send: async (headers) => (await api.json('PUT', path, { body: { ...modelOf(site), visibility, restrictedToGroups }, headers })).data,
      latest: async () => (site = await api.get(path)),
      reload: async () => {
        site = await api.get(path);
        fillAccessForm();
      },
      saved: async (stored) => {
        site = stored;
        fillAccessForm();
        await loadSites();
        say(status, `Saved: ${describeAccess(stored)}.`, 'ok');
      },
    });
  });
});

// Theme and logo.

function themeForm() {
  return byId('theme-form', HTMLFormElement);
}

function fillThemeForm() {
  const form = themeForm();
  const source = theme ?? { ...DEFAULT_THEME, name: `${site.name} theme` };
  const colors = { ...DEFAULT_THEME.colors, ...source.colors };
  /** @type {HTMLInputElement} */ (form.elements.namedItem('name')).value = source.name;
  for (const field of COLOR_FIELDS) {
    /** @type {HTMLInputElement} */ (form.elements.namedItem(field)).value = colors[field].slice(0, 7).toLowerCase();
  }
  /** @type {HTMLInputElement} */ (form.elements.namedItem('fontBody')).value = source.fonts.body;
  say(byId('theme-status'), theme ? `Theme ${theme.name}, version ${theme.version}.` : 'This site has no theme yet: saving creates one.');
  showDraft();
}

/** The theme the form describes (on top of the stored one, whose other parts it keeps). */
function draftTheme() {
  const form = values(themeForm());
  const base = theme ? modelOf(theme) : { ...DEFAULT_THEME, header: { showSearch: true, links: [] }, footer: { links: [] } };
  /** @type {Record<string, string>} */
  const colors = {};
  for (const field of COLOR_FIELDS) colors[field] = form[field];
  return { ...base, name: form.name.trim(), colors: { ...base.colors, ...colors }, fonts: { ...base.fonts, body: form.fontBody.trim() } };
}

/** Live preview and the contrast warning, on every change of the form. */
function showDraft() {
  const draft = draftTheme();
  preview.applyTheme(draft.colors, draft.fonts.body);
  const pairs = [
    ['text on background', draft.colors.text, draft.colors.background],
    ['links on background', draft.colors.link, draft.colors.background],
    ['header text on header', draft.colors.headerText, draft.colors.headerBackground],
  ];
  const weak = pairs.map(([what, a, b]) => ({ what, ratio: contrast(a, b) })).filter((p) => p.ratio < MIN_TEXT_CONTRAST);
  say(
    byId('contrast'),
    weak.length
      ? `Hard to read: ${weak.map((p) => `${p.what} ${p.ratio.toFixed(1)}:1`).join(', ')} (aim for ${MIN_TEXT_CONTRAST}:1).`
      : `Contrast is fine (text ${contrast(draft.colors.text, draft.colors.background).toFixed(1)}:1).`,
    weak.length ? 'error' : 'ok',
  );
}

themeForm().addEventListener('input', showDraft);

/**
 * Saves the draft (plus `change` to it); a site without a theme gets a new one. `done` says what
 * happened once it is written, now or after the admin settled a conflict.
 * @param {(stored: any) => string} done
 * @param {(draft: any) => void} [change]
 */
async function saveTheme(done, change) {
  const status = byId('theme-status');
  const draft = draftTheme();
  change?.(draft);
  if (!theme) {
    theme = (await api.json('POST', '/api/themes', { body: draft })).data;
    const body = { ...modelOf(site), themeId: theme.id };
    site = (await api.json('PUT', `/api/sites/${encodeURIComponent(site.id)}`, { body, headers: ifMatch(site) })).data;
    await preview.refresh();
    say(status, done(theme), 'ok');
    return;
  }
  const path = `/api/themes/${encodeURIComponent(theme.id)}`;
  await guardedSave(status, {
    what: 'The theme',
    read: theme,
    send: async (headers) => (await api.json('PUT', path, { body: draft, headers })).data,
    latest: () => api.get(path),
    reload: async () => {
      theme = await api.get(path);
      fillThemeForm();
      await preview.refresh();
    },
    saved: async (stored) => {
      theme = stored;
      await preview.refresh();
      say(status, done(stored), 'ok');
    },
  });
}

onSubmit('theme-form', async () => {
  const status = byId('theme-status');
  await attempt(status, () => saveTheme((stored) => `Saved theme ${stored.name} (version ${stored.version}).`));
});

onSubmit('logo-form', async (form) => {
  const status = byId('logo-status');
  await attempt(status, async () => {
    const file = /** @type {HTMLInputElement} */ (form.elements.namedItem('file')).files?.[0];
    if (!file) throw new Error('Choose an image first.');
    say(status, `Uploading ${file.name}…`);
    const media = await uploadLogo(api, file);
    say(status, `Logo ${file.name} uploaded and checked (${media.size} bytes); saving the theme…`);
    await saveTheme(
      (stored) => {
        form.reset();
        say(status, `Logo ${file.name} uploaded and checked (${media.size} bytes); the theme uses it.`, 'ok');
        return `Saved theme ${stored.name} (version ${stored.version}).`;
      },
      (draft) => {
        draft.header = { ...draft.header, logoMediaId: media.id };
      },
    );
  });
});

// Navigation.

async function loadNavigation() {
  const response = await api.send('GET', `/api/sites/${encodeURIComponent(site.id)}/navigation`);
  if (response.status === 404) {
    navItems = [];
    navStored = null;
  } else if (response.ok) {
    const stored = await response.json();
    navItems = stored.items;
    navStored = stored;
  } else {
    throw new ApiError(response.status, `http_${response.status}`, 'The navigation could not be read.');
  }
  await loadBrokenNavigation();
  drawNavigation();
}

/** Which saved entries point at a page or space Confluence trashed or removed. */
async function loadBrokenNavigation() {
  const response = await api.send('GET', `/api/sites/${encodeURIComponent(site.id)}/navigation/broken`);
  if (!response.ok) throw await errorOf(response);
  /** @type {{items: import('./navigation.js').BrokenEntry[]}} */
  const broken = await response.json();
  navBroken = new Map(broken.items.map((entry) => [entry.id, entry]));
}

/**
 * @param {import('./navigation.js').NavItem[]} items
 * @returns {HTMLElement[]}
 */
function navNodes(items) {
  return items.map((item) => {
    const broken = navBroken.get(item.id);
    return h('li', broken ? { class: 'broken', 'data-broken': broken.reason } : {}, [
      h('span', { class: 'item' }, [
        h('strong', {}, [item.label]),
        h('span', { class: 'meta' }, [describeTarget(item.target)]),
        broken ? h('span', { class: 'broken-note' }, [describeBroken(broken)]) : null,
        h('button', { type: 'button', class: 'danger', 'data-remove': item.id, 'aria-label': `Remove ${item.label}` }, ['Remove']),
      ]),
      item.children.length ? h('ul', {}, navNodes(item.children)) : null,
    ]);
  });
}

function drawNavigation() {
  const tree = byId('nav-tree');
  tree.replaceChildren(...navNodes(navItems));
  if (!navItems.length) tree.append(h('li', {}, ['No items yet.']));
  const shown = flatten(navItems).filter(({ item }) => navBroken.has(item.id)).length;
  const summary = byId('nav-broken');
  summary.hidden = shown === 0;
  summary.textContent =
    shown === 1
      ? '1 entry points at a page or space that is gone from Confluence. Change or remove it, or restore the page in Confluence.'
      : `${shown} entries point at pages or spaces that are gone from Confluence. Change or remove them, or restore the pages in Confluence.`;
  const parent = byId('nav-parent', HTMLSelectElement);
  parent.replaceChildren(
    h('option', { value: '' }, ['Top level']),
    ...flatten(navItems).map(({ item, depth }) => h('option', { value: item.id }, [`${'— '.repeat(depth)}${item.label}`])),
  );
}

byId('nav-tree').addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-remove]') : null;
  if (!button) return;
  navItems = removeItem(navItems, String(button.getAttribute('data-remove')));
  drawNavigation();
  say(byId('nav-status'), 'Removed (not saved yet).');
  byId('nav-label').focus();
});

onSubmit('nav-form', async (form) => {
  const status = byId('nav-status');
  await attempt(status, async () => {
    const { label, type, target, parent } = values(form);
    if (!label.trim()) throw new Error('Give the item a label.');
    navItems = addItem(navItems, parent, { id: newId(), label: label.trim(), target: targetOf(type, target), children: [] });
    drawNavigation();
    /** @type {HTMLInputElement} */ (form.elements.namedItem('label')).value = '';
    /** @type {HTMLInputElement} */ (form.elements.namedItem('target')).value = '';
    say(status, `Added ${label.trim()} (not saved yet).`);
  });
});

byId('nav-save').addEventListener('click', () => {
  const status = byId('nav-status');
  const path = `/api/sites/${encodeURIComponent(site.id)}/navigation`;
  const items = navItems;
  void attempt(status, () =>
    guardedSave(status, {
      what: 'The navigation',
      read: navStored,
      send: async (headers) => (await api.json('PUT', path, { body: { items }, headers })).data,
      latest: async () => {
        const response = await api.send('GET', path);
        if (response.status === 404) return null;
        if (!response.ok) throw await errorOf(response);
        return response.json();
      },
      reload: loadNavigation,
      saved: async (stored) => {
        navStored = stored;
        await loadBrokenNavigation();
        drawNavigation();
        say(status, `Navigation saved (${flatten(items).length} items).`, 'ok');
        await preview.refresh();
      },
    }),
  );
});

// Announcements.

/** @param {any} a */
function announcementState(a) {
  const now = Date.now();
  if (a.startsAt && Date.parse(a.startsAt) > now) return `scheduled from ${when(a.startsAt)}`;
  if (a.endsAt && Date.parse(a.endsAt) <= now) return `ended ${when(a.endsAt)}`;
  return a.endsAt ? `showing until ${when(a.endsAt)}` : 'showing';
}

async function loadAnnouncements() {
  const page = await api.get(`/api/sites/${encodeURIComponent(site.id)}/announcements`);
  const list = byId('ann-list');
  list.replaceChildren(
    ...page.items.map((/** @type {any} */ a) =>
      h('li', {}, [
        h('span', {}, [h('strong', {}, [a.title]), ' ', h('span', { class: 'meta' }, [`${a.severity}, ${a.audience}, ${announcementState(a)}`])]),
        h('button', { type: 'button', class: 'danger', 'data-announcement': a.id, 'data-version': String(a.version), 'aria-label': `Delete ${a.title}` }, ['Delete']),
      ]),
    ),
  );
  if (!page.items.length) list.append(h('li', {}, ['No announcements.']));
}

onSubmit('ann-form', async (form) => {
  const status = byId('ann-status');
  await attempt(status, async () => {
    const v = values(form);
    const body = {
      title: v.title.trim(),
      body: v.body.trim(),
      severity: v.severity,
      audience: v.audience,
      startsAt: localToRfc3339(v.startsAt),
      endsAt: localToRfc3339(v.endsAt),
      dismissible: v.dismissible === 'on',
    };
    const { data } = await api.json('POST', `/api/sites/${encodeURIComponent(site.id)}/announcements`, { body });
    form.reset();
    await Promise.all([loadAnnouncements(), preview.refresh()]);
    say(status, `Announcement ${data.title} is ${announcementState(data)}.`, 'ok');
  });
});

byId('ann-list').addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-announcement]') : null;
  if (!button) return;
  const status = byId('ann-status');
  const path = `/api/sites/${encodeURIComponent(site.id)}/announcements/${encodeURIComponent(String(button.getAttribute('data-announcement')))}`;
  void attempt(status, () =>
    guardedSave(status, {
      what: 'The announcement',
      read: { version: Number(button.getAttribute('data-version')) },
      send: (headers) => api.json('DELETE', path, { headers }),
      latest: () => api.get(path),
      reload: async () => {
        await loadAnnouncements();
      },
      saved: async () => {
        await Promise.all([loadAnnouncements(), preview.refresh()]);
        say(status, 'Announcement deleted (restorable from the trash for 30 days).', 'ok');
        document.dispatchEvent(new CustomEvent('content-deleted'));
        byId('ann-title').focus();
      },
    }),
  );
});

// Feedback.

async function loadFeedback() {
  if (!site) return;
  const page = await api.get(`/api/feedback?siteId=${encodeURIComponent(site.id)}`);
  const body = byId('feedback-table').querySelector('tbody');
  body?.replaceChildren(
    ...page.items.map((/** @type {any} */ f) =>
      h('tr', {}, [h('td', {}, [when(f.submittedAt)]), h('td', {}, [f.rating ? `${f.rating} of 5` : '']), h('td', {}, [f.text ?? '']), h('td', {}, [f.pageId ?? 'the site'])]),
    ),
  );
  say(byId('feedback-status'), page.items.length ? `${page.items.length} shown.` : 'No feedback on this site yet.');
}

byId('feedback-refresh').addEventListener('click', () => void attempt(byId('feedback-status'), loadFeedback));
document.addEventListener('feedback-sent', () => void attempt(byId('feedback-status'), loadFeedback));

// Trash: a deletion anywhere shows up there; a restore is shown everywhere it belongs (showRestored).

document.addEventListener('content-deleted', () => void attempt(byId('trash-status'), () => trash.load()));

/**
 * After a restore or an import every panel re-reads what it shows. The restoring screen awaits
 * this before it says it is done, so nothing the admin edits next is overwritten by a late read.
 */
async function showRestored() {
  await Promise.all([loadSites(), pages.load(), reports.root.hidden ? null : reports.load()]);
  if (site) await chooseSite(site.id);
}

// Export.

byId('export').addEventListener('click', () => {
  const status = byId('export-status');
  void attempt(status, async () => {
    say(status, 'Exporting…');
    const response = await api.send('GET', '/api/export');
    if (!response.ok) throw new ApiError(response.status, `http_${response.status}`, 'The export failed.');
    const blob = await response.blob();
    const document_ = JSON.parse(await blob.text());
    const link = h('a', { href: URL.createObjectURL(blob), download: `canopy-export-${new Date().toISOString().slice(0, 10)}.json` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.getAttribute('href') ?? ''), 60_000);
    const counts = ['sites', 'themes', 'navigations', 'announcements', 'media'].map((k) => `${document_[k]?.length ?? 0} ${k}`);
    say(status, `Exported: ${counts.join(', ')}.`, 'ok');
  });
});

// Preview and start.

byId('preview-refresh').addEventListener('click', () => void preview.refresh());
setInterval(() => {
  if (document.visibilityState === 'visible') void preview.refresh();
}, PREVIEW_REFRESH_MS);

async function start() {
  /** @type {any} */
  let tenant;
  try {
    tenant = await api.get('/api/tenant');
    say(byId('tenant'), `${tenant.clientKey} (${tenant.productType}, region ${tenant.region})`);
    await loadSites();
  } catch (error) {
    alertBox.textContent = `The console could not reach Canopy: ${message(error)}`;
    alertBox.hidden = false;
    return;
  }
  await attempt(byId('trash-status'), () => trash.load());
  // Report configurations are Jira's: the screen exists for Jira tenants only.
  if (tenant.productType === 'jira') await attempt(byId('rp-status'), () => reports.show());
  await attempt(byId('pm-status'), () => pages.load());
  await attempt(byId('residency-status'), () => residency.load());
}

void start();
