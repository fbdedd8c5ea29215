// The JSON API from the page: cookie-authenticated, and every state-changing request is
// JSON and carries the page's CSRF token (the server refuses cookie-authenticated requests
// of any other type, or without the token). The server words its `message` fields in the
// page's language (the cookie or Accept-Language); the client's own are worded here.
import { pageTranslator } from './language.ts';

export interface ApiError {
  code: string;
  message: string;
  field?: string;
}

export type ApiResult<T> = { ok: true; status: number; value: T } | { ok: false; status: number; error: ApiError };

/** The session's CSRF token (the layout's <meta name="csrf-token">): sent with every change. */
function csrfToken(): string | undefined {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content || undefined;
}

async function request<T>(method: string, url: string, body?: unknown): Promise<ApiResult<T>> {
  let res: Response;
  const csrf = method !== 'GET' ? csrfToken() : undefined;
  try {
    res = await fetch(url, {
      method,
      credentials: 'same-origin',
      headers: {
        Accept: 'application/json',
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...(csrf ? { 'X-CSRF-Token': csrf } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch {
    return { ok: false, status: 0, error: { code: 'NETWORK', message: pageTranslator().t('api.network') } };
  }
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    json = undefined;
  }
  if (res.ok) return { ok: true, status: res.status, value: json as T };
  const err = (json as { error?: ApiError } | undefined)?.error;
  return {
    ok: false,
    status: res.status,
    error: err && typeof err.message === 'string' ? err : { code: 'HTTP_' + res.status, message: pageTranslator().t('api.http', { status: res.status, text: res.statusText }) },
  };
}

export const getJson = <T>(url: string) => request<T>('GET', url);
export const postJson = <T>(url: string, body: unknown = {}) => request<T>('POST', url, body);
/** DELETE carries an empty JSON body so the server sees a JSON request. */
export const deleteJson = <T>(url: string) => request<T>('DELETE', url, {});
