// @ts-check
/** DOM helpers: the console builds every view with these (text nodes, never innerHTML). */

/**
 * An element with attributes (`true` sets a boolean attribute, `false`/`undefined` skip it) and
 * children (strings become text).
 * @param {string} tag
 * @param {Record<string, string | boolean | undefined>} [attributes]
 * @param {(Node | string | null | undefined)[]} [children]
 * @returns {HTMLElement}
 */
export function h(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === true) element.setAttribute(name, '');
    else if (typeof value === 'string') element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) element.append(child);
  }
  return element;
}

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} [type]
 * @returns {T}
 */
export function byId(id, type) {
  const element = document.getElementById(id);
  if (!element || (type && !(element instanceof type))) throw new Error(`the page has no #${id}`);
  return /** @type {T} */ (element);
}

/**
 * The first element under `root` matching `selector`.
 * @template {Element} T
 * @param {ParentNode} root
 * @param {string} selector
 * @param {new () => T} type
 * @returns {T}
 */
export function find(root, selector, type) {
  const element = root.querySelector(selector);
  if (!(element instanceof type)) throw new Error(`no ${selector}`);
  return element;
}

/**
 * Shows a message in a status element (`role="status"`, so screen readers announce it).
 * @param {HTMLElement} element
 * @param {string} text
 * @param {'ok' | 'error' | ''} [kind]
 */
export function say(element, text, kind = '') {
  element.textContent = text;
  element.classList.toggle('ok', kind === 'ok');
  element.classList.toggle('error', kind === 'error');
}

/**
 * A form's named controls as strings (checkboxes as "on" when checked).
 * @param {HTMLFormElement} form
 * @returns {Record<string, string>}
 */
export function values(form) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [name, value] of new FormData(form)) {
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

/**
 * An RFC 3339 UTC time from a `datetime-local` value (the admin's own time zone), whole seconds.
 * @param {string} local
 * @returns {string | undefined}
 */
export function localToRfc3339(local) {
  if (!local) return undefined;
  const date = new Date(local);
  if (Number.isNaN(date.getTime())) return undefined;
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A short local date and time for an RFC 3339 string.
 * @param {string | undefined} rfc3339
 */
export function when(rfc3339) {
  return rfc3339 ? new Date(rfc3339).toLocaleString() : '';
}
