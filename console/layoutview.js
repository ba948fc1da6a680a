// @ts-check
/**
 * A layout drawn as a site page draws it: sections as rows of a 12-unit grid, each column as wide
 * as its units, blocks in order (containers nest). Lists that a site fetches from Confluence for
 * each visitor (pages, spaces) are shown as what they will list, since the console stores and
 * fetches no Confluence content. Used by the builder's live preview (the draft) and the site
 * preview (the home layout in the site's config).
 */

import { h } from './dom.js';
import { renderMarkup } from './markup.js';

/**
 * @typedef {object} ViewContext
 * @property {(mediaId: string) => Promise<string>} mediaUrl a download URL for an image
 * @property {any[]} announcements the site's active announcements (for announcement blocks)
 */

/**
 * @param {import('./layoutmodel.js').Layout} layout
 * @param {ViewContext} context
 * @returns {HTMLElement}
 */
export function renderLayout(layout, context) {
  return h(
    'div',
    { class: 'lp', 'data-layout-title': layout.title },
    layout.sections.map((section) => {
      const row = h(
        'div',
        { class: 'lp-section', 'data-section': section.id },
        section.columns.map((column) => h('div', { class: `lp-column w-${column.width}` }, column.blocks.map((block) => renderBlock(block, context)))),
      );
      if (section.background?.color) {
        row.classList.add('has-background');
        row.style.setProperty('--section-background', section.background.color);
      }
      return row;
    }),
  );
}

/**
 * @param {import('./layoutmodel.js').Block} block
 * @param {ViewContext} context
 * @returns {HTMLElement}
 */
function renderBlock(block, context) {
  const box = (/** @type {(Node | string | null)[]} */ children) => h('div', { class: `lp-block lp-${block.type}` }, children);
  switch (block.type) {
    case 'text':
      return box([h('p', {}, renderMarkup(block.markup))]);
    case 'image': {
      const image = /** @type {HTMLImageElement} */ (h('img', { alt: block.alt ?? '' }));
      if (block.mediaId) {
        context.mediaUrl(block.mediaId).then(
          (url) => (image.src = url),
          () => (image.alt = `${block.alt ?? ''} (image not found)`.trim()),
        );
      }
      return box([block.link ? h('a', { href: block.link, target: '_blank', rel: 'noopener noreferrer' }, [image]) : image]);
    }
    case 'pageList': {
      const from = [
        block.spaceKey ? `in space ${block.spaceKey}` : 'in the site’s spaces',
        block.parentPageId ? `under page ${block.parentPageId}` : '',
        block.labels.length ? `labelled ${block.labels.join(', ')}` : '',
      ].filter(Boolean);
      return box([h('p', { class: 'lp-caption' }, [`Up to ${block.limit} pages ${from.join(' ')}, read from Confluence for each visitor.`])]);
    }
    case 'spaceList':
      return box([
        h('p', { class: 'lp-caption' }, [block.spaceKeys.length ? 'Spaces:' : 'The site’s spaces, read from Confluence for each visitor.']),
        block.spaceKeys.length ? h('ul', {}, block.spaceKeys.map((/** @type {string} */ key) => h('li', {}, [key]))) : null,
      ]);
    case 'links':
      return box([
        h(
          'ul',
          {},
          block.items.map((/** @type {{label: string, url: string}} */ link) =>
            h('li', {}, [h('a', { href: link.url, target: '_blank', rel: 'noopener noreferrer' }, [link.label])]),
          ),
        ),
      ]);
    case 'searchBox':
      return box([
        h('input', { type: 'search', placeholder: block.placeholder ?? 'Search', 'aria-label': block.placeholder || 'Search this site', tabindex: '-1' }),
      ]);
    case 'announcements':
      return box(
        context.announcements.length
          ? context.announcements.map((/** @type {any} */ a) => h('div', { class: `announcement severity-${a.severity}` }, [h('strong', {}, [a.title])]))
          : [h('p', { class: 'lp-caption' }, ['The site’s active announcements show here.'])],
      );
    case 'container':
      return box(block.blocks.map((/** @type {import('./layoutmodel.js').Block} */ child) => renderBlock(child, context)));
    default:
      return box([`(${block.type})`]);
  }
}
