// @ts-check
/**
 * The preview: a site page drawn from `GET /api/sites/{id}/config` as a site page would draw it
 * (theme colours and font, logo, navigation, the announcements active now). The config is
 * re-read with `If-None-Match`, so an unchanged site costs a 304 and no body. While the theme is
 * edited, its draft colours are shown at once, before they are saved.
 */

import { byId, find, h, say } from './dom.js';
import { renderLayout } from './layoutview.js';
import { renderMarkup } from './markup.js';
import { mediaUrl } from './media.js';

/** Theme colour → the preview's custom property. */
const COLOR_PROPERTIES = {
  primary: '--site-primary',
  background: '--site-background',
  text: '--site-text',
  link: '--site-link',
  headerBackground: '--site-header-background',
  headerText: '--site-header-text',
};

/**
 * @param {import('./navigation.js').NavItem[]} items
 * @returns {HTMLElement}
 */
function navList(items) {
  return h(
    'ul',
    {},
    items.map((item) => {
      const label = item.target.type === 'url' ? h('a', { href: item.target.url, target: '_blank', rel: 'noopener noreferrer' }, [item.label]) : h('span', {}, [item.label]);
      return h('li', {}, [label, item.children.length ? navList(item.children) : null]);
    }),
  );
}

export class Preview {
  /** @param {import('./api.js').Api} api */
  constructor(api) {
    this.api = api;
    this.root = byId('preview');
    this.status = byId('preview-status');
    /** @type {string | null} */
    this.siteId = null;
    /** @type {any} */
    this.config = null;
    /** @type {string | null} */
    this.etag = null;
    /** Answers seen, for the status line. */
    this.notModified = 0;
    find(this.root, '.site-feedback', HTMLFormElement).addEventListener('submit', (event) => {
      event.preventDefault();
      void this.sendFeedback(/** @type {HTMLFormElement} */ (event.currentTarget));
    });
  }

  /** @param {string | null} siteId */
  show(siteId) {
    this.siteId = siteId;
    this.config = null;
    this.etag = null;
    this.root.hidden = !siteId;
    if (!siteId) say(this.status, 'Choose a site to preview it.');
  }

  /** Re-reads the config, conditionally; draws it when it changed. */
  async refresh() {
    const siteId = this.siteId;
    if (!siteId) return;
    /** @type {Record<string, string>} */
    const headers = this.etag ? { 'if-none-match': this.etag } : {};
    try {
      const response = await this.api.send('GET', `/api/sites/${encodeURIComponent(siteId)}/config`, { headers });
      if (siteId !== this.siteId) return;
      if (response.status === 304 && this.config) {
        this.notModified += 1;
        say(this.status, `Up to date (304 Not Modified, ${this.etag}).`, 'ok');
        return;
      }
      if (!response.ok) throw new Error(`${response.status}`);
      this.config = await response.json();
      this.etag = response.headers.get('etag');
      say(this.status, `Drawn from the site config (${this.etag}).`, 'ok');
      await this.draw();
    } catch (error) {
      say(this.status, `The preview could not be read: ${error instanceof Error ? error.message : error}`, 'error');
    }
  }

  /**
   * Shows theme colours and font at once (the live preview while editing).
   * @param {Record<string, string | undefined>} colors
   * @param {string | undefined} font
   */
  applyTheme(colors, font) {
    for (const [name, property] of Object.entries(COLOR_PROPERTIES)) {
      const value = colors[name];
      if (value) this.root.style.setProperty(property, value.slice(0, 7));
      else this.root.style.removeProperty(property);
    }
    if (font) this.root.style.setProperty('--site-font', font);
    else this.root.style.removeProperty('--site-font');
  }

  async draw() {
    const { site, theme, navigation, announcements, homeLayout } = this.config;
    find(this.root, '.site-title', HTMLElement).textContent = site.name;
    const colors = theme?.colors ?? {};
    this.applyTheme(
      { ...colors, link: colors.link ?? colors.primary, headerBackground: colors.headerBackground ?? colors.primary, headerText: colors.headerText ?? colors.background },
      theme?.fonts?.body,
    );
    find(this.root, '.site-nav', HTMLElement).replaceChildren(navList(navigation?.items ?? []));
    find(this.root, '.site-announcements', HTMLElement).replaceChildren(
      ...announcements.map((/** @type {any} */ a) =>
        h('div', { class: `announcement severity-${a.severity}`, role: 'note', 'aria-label': `Announcement: ${a.title}` }, [
          h('strong', {}, [a.title]),
          a.body ? h('p', {}, renderMarkup(a.body)) : null,
        ]),
      ),
    );
    // The home layout as the site's landing page draws it; the sample text stands in without one.
    const context = { mediaUrl: (/** @type {string} */ id) => mediaUrl(this.api, id), announcements };
    find(this.root, '.site-layout', HTMLElement).replaceChildren(...(homeLayout ? [renderLayout(homeLayout, context)] : []));
    find(this.root, '.site-sample', HTMLElement).hidden = Boolean(homeLayout);
    const logo = find(this.root, '.site-logo', HTMLImageElement);
    const logoId = theme?.header?.logoMediaId;
    if (logoId) {
      logo.src = await mediaUrl(this.api, logoId);
      logo.alt = `${site.name} logo`;
      logo.hidden = false;
    } else {
      logo.removeAttribute('src');
      logo.hidden = true;
    }
  }

  /**
   * Feedback as a visitor of the site sends it, so the feedback panel has something to show.
   * @param {HTMLFormElement} form
   */
  async sendFeedback(form) {
    const status = find(form, '.site-feedback-status', HTMLElement);
    const data = new FormData(form);
    try {
      await this.api.json('POST', '/api/feedback', {
        body: { siteId: this.siteId, rating: Number(data.get('rating')), text: String(data.get('text') ?? '') },
      });
      form.reset();
      say(status, 'Thank you: feedback sent.', 'ok');
      form.dispatchEvent(new CustomEvent('feedback-sent', { bubbles: true }));
    } catch (error) {
      say(status, `Not sent: ${error instanceof Error ? error.message : error}`, 'error');
    }
  }
}
