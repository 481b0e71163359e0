// The native /v1 API with the signed-in bearer token. The token lives in
// sessionStorage (this tab only, gone when it closes), travels only in the
// Authorization header of same-origin requests, and never in a URL; the
// API sets no cookie, so there is nothing a cross-site page could ride on.

const KEY = "weir.token";

export function token() {
  return sessionStorage.getItem(KEY);
}

export function signIn(value) {
  sessionStorage.setItem(KEY, value);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** An API answer that is not 2xx, with the API's code and message. */
export class ApiError extends Error {
  constructor(status, body) {
    const message = body && typeof body.message === "string" ? body.message : `HTTP ${status}`;
    super(message);
    this.status = status;
    this.code = body && body.code;
    this.field = body && body.field;
  }
}

/** Calls the API; resolves with the JSON body (null for 204). */
export async function call(method, path, body) {
  const headers = { Authorization: `Bearer ${token() ?? ""}`, Accept: "application/json" };
  const init = { method, headers, credentials: "omit", cache: "no-store", redirect: "error" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

/** A path segment from an id (ids come from the API, but never trust them raw). */
export function seg(id) {
  return encodeURIComponent(String(id));
}

export const get = (path) => call("GET", path);
