// @ts-check
/**
 * Talking to Canopy: context tokens (Connect's `AP` inside the Atlassian iframe, the local server's
 * `POST /dev/token` in local mode), JSON calls carrying them, and the region move: a tenant that
 * moved answers 421 naming its new base URL, and every later call goes there.
 */

/** The local server's dev tenant (`POST /dev/install` installs it). */
export const DEV_CLIENT_KEY = 'canopy-dev-tenant';
/** Atlassian's Connect JavaScript API; the console's CSP allows this origin for scripts. */
export const CONNECT_JS = 'https://connect-cdn.atl-paas.net/all.js';
/** Dev tokens live an hour; a new one is minted well before. */
export const DEV_TOKEN_REUSE_MS = 30 * 60 * 1000;

/** A refused call, with Canopy's error code and message. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {Record<string, unknown>} [detail] the whole `error` object
   */
  constructor(status, code, message, detail = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** @typedef {() => Promise<string>} TokenSource */

/**
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
export async function errorOf(response) {
  /** @type {Record<string, unknown>} */
  let error = {};
  try {
    const body = await response.json();
    if (body && typeof body.error === 'object') error = body.error;
  } catch {
    // not JSON: the status says enough
  }
  const code = typeof error.code === 'string' ? error.code : `http_${response.status}`;
  const message = typeof error.message === 'string' ? error.message : `${response.status} ${response.statusText}`;
  return new ApiError(response.status, code, message, error);
}

/** Inside Atlassian's iframe: the product hands the iframe its `xdm_e` origin. */
export function insideAtlassian() {
  return window.self !== window.top && new URLSearchParams(location.search).has('xdm_e');
}

/**
 * Context tokens from Connect's `AP.context.getToken` (it caches and refreshes them).
 * @returns {TokenSource}
 */
export function connectTokens() {
  /** @type {Promise<void> | undefined} */
  let loaded;
  return async () => {
    loaded ??= new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = CONNECT_JS;
      script.dataset.options = 'sizeToParent:true';
      script.onload = () => resolve();
      script.onerror = () => reject(new Error('Atlassian Connect (all.js) could not be loaded'));
      document.head.append(script);
    });
    await loaded;
    return new Promise((resolve) => window.AP.context.getToken(resolve));
  };
}

/**
 * Context tokens of the local server's dev admin; installs the dev tenant on first use.
 * @param {string} [clientKey]
 * @returns {TokenSource}
 */
export function devTokens(clientKey = DEV_CLIENT_KEY) {
  let token = '';
  let mintedAt = 0;
  return async () => {
    if (token && Date.now() - mintedAt < DEV_TOKEN_REUSE_MS) return token;
    const post = (/** @type {string} */ path, /** @type {unknown} */ body) =>
      fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    let response = await post('/dev/token', { clientKey });
    if (response.status === 404) {
      const error = await errorOf(response);
      if (error.code !== 'unknown_tenant') {
        throw new ApiError(404, 'not_local', 'This console needs a token from Atlassian: open it from your site.');
      }
      response = await post('/dev/install', { clientKey });
    }
    if (!response.ok) throw await errorOf(response);
    token = (await response.json()).contextJwt;
    mintedAt = Date.now();
    return token;
  };
}

/**
 * @typedef {object} CallOptions
 * @property {unknown} [body] sent as JSON
 * @property {Record<string, string>} [headers]
 * @property {boolean} [followRegion] re-send to the new region on 421 (default true)
 */

export class Api {
  /**
   * @param {TokenSource} tokens
   * @param {(region: string, baseUrl: string) => void} [onRegionMove]
   */
  constructor(tokens, onRegionMove = () => {}) {
    this.tokens = tokens;
    this.onRegionMove = onRegionMove;
    /** Where the tenant's API answers: this origin until a 421 names another. */
    this.base = '';
  }

  /**
   * A call with the context token; answers the raw response (any status but 421).
   * @param {string} method
   * @param {string} path
   * @param {CallOptions} [options]
   * @returns {Promise<Response>}
   */
  async send(method, path, options = {}) {
    /** @type {Record<string, string>} */
    const headers = { authorization: `JWT ${await this.tokens()}`, ...options.headers };
    /** @type {RequestInit} */
    const init = { method, headers, cache: 'no-store' };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(this.base + path, init);
    if (response.status === 421 && options.followRegion !== false) {
      const error = await errorOf(response);
      const baseUrl = error.detail.baseUrl;
      if (typeof baseUrl === 'string' && baseUrl && baseUrl !== this.base) {
        this.base = baseUrl.replace(/\/$/, '');
        this.onRegionMove(String(error.detail.region ?? ''), this.base);
        return fetch(this.base + path, init);
      }
      throw error;
    }
    return response;
  }

  /**
   * A JSON call; refusals throw an ApiError. Answers the parsed body (null for 204) and the ETag.
   * @param {string} method
   * @param {string} path
   * @param {CallOptions} [options]
   * @returns {Promise<{data: any, etag: string | null}>}
   */
  async json(method, path, options = {}) {
    const response = await this.send(method, path, options);
    if (!response.ok) throw await errorOf(response);
    const data = response.status === 204 ? null : await response.json();
    return { data, etag: response.headers.get('etag') };
  }

  /** @param {string} path */
  get(path) {
    return this.json('GET', path).then((r) => r.data);
  }
}

/**
 * A stored item's model fields: the API adds id, version and who changed it when, and refuses
 * them back (its models deny unknown fields).
 * @param {Record<string, any>} stored
 * @returns {Record<string, any>}
 */
export function modelOf(stored) {
  const { id: _id, version: _version, updatedAt: _updatedAt, updatedBy: _updatedBy, ...model } = stored;
  return model;
}

/**
 * `If-Match` for a stored item.
 * @param {{version: number}} stored
 */
export function ifMatch(stored) {
  return { 'if-match': `"${stored.version}"` };
}
