// @ts-check
/**
 * Form fields bound to the API's field paths, for the screens that check their forms as the API
 * does: a labelled control with its message under it, and the messages of a problem map shown
 * (and the API's own 422 placed at the field it names).
 */

import { splitFieldMessage } from './bounds.js';
import { h } from './dom.js';

/** A DOM id for a path within a screen (`targets[0].title` → `ps-targets-0-title`). */
export function fieldId(/** @type {string} */ prefix, /** @type {string} */ path) {
  return `${prefix}-${path.replace(/[^A-Za-z0-9]+/g, '-').replace(/-$/, '')}`;
}

/**
 * A labelled control for `path`, with its message element.
 * @param {string} prefix the screen's id prefix
 * @param {string} path
 * @param {string} label
 * @param {HTMLElement} control
 */
export function field(prefix, path, label, control) {
  const id = fieldId(prefix, path);
  control.id = id;
  control.setAttribute('data-path', path);
  control.setAttribute('aria-describedby', `${id}-error`);
  return h('div', { class: 'field' }, [h('label', { for: id }, [label]), control, errorFor(prefix, path)]);
}

/**
 * The message element of a path with no control of its own (a list, the whole form).
 * @param {string} prefix
 * @param {string} path
 */
export function errorFor(prefix, path) {
  return h('p', { class: 'field-error', id: `${fieldId(prefix, path || 'form')}-error`, 'data-error-for': path });
}

/**
 * Shows `problems` in `form` (every message element, every control's aria-invalid); answers the
 * problems no element shows.
 * @param {HTMLElement} form
 * @param {Map<string, string>} problems
 * @returns {string[]}
 */
export function showProblems(form, problems) {
  const shown = new Set();
  for (const element of form.querySelectorAll('[data-error-for]')) {
    const path = String(element.getAttribute('data-error-for'));
    const problem = problems.get(path) ?? '';
    element.textContent = problem ? `${problem}.` : '';
    if (problem) shown.add(path);
    const control = form.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (control) {
      if (problem) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    }
  }
  return [...problems].filter(([path]) => !shown.has(path)).map(([path, problem]) => (path ? `${path}: ${problem}` : problem));
}

/**
 * The API's 422 as a problem at its path.
 * @param {string} message
 * @returns {Map<string, string>}
 */
export function serverProblem(message) {
  const { path, problem } = splitFieldMessage(message);
  return new Map([[path, problem]]);
}

/** Focuses the first control marked invalid in `form`. */
export function focusFirstProblem(/** @type {HTMLElement} */ form) {
  /** @type {HTMLElement | null} */ (form.querySelector('[aria-invalid="true"]'))?.focus();
}
