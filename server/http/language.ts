// The language of a request: `?lang=` on a page (which also sets the cookie, so the choice
// is remembered), else the cookie the header's toggle set, else Accept-Language, else English.
// Pages render in it; the API localizes its `message` fields with it (codes stay the contract).
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { parseCookie, stringifySetCookie } from 'cookie';
import { CATALOGS, DEFAULT_UI_LANG, LANG_COOKIE, LANGS, isLang, negotiate, translator, type Lang, type MessageKey, type Translator } from '../../common/i18n/index.ts';

/** How long the toggle's choice is remembered: a year, like any preference cookie. */
const COOKIE_MAX_AGE_S = 365 * 24 * 3600;

function cookieLang(req: IncomingMessage): Lang | undefined {
  const v = parseCookie(req.headers.cookie ?? '')[LANG_COOKIE];
  return isLang(v) ? v : undefined;
}

/** The cookie, then Accept-Language, then English (the query is a page's business: pageLanguage). */
export function requestLang(req: IncomingMessage): Lang {
  return cookieLang(req) ?? negotiate(req.headers['accept-language']) ?? DEFAULT_UI_LANG;
}

export function requestTranslator(req: IncomingMessage): Translator {
  return translator(requestLang(req));
}

/** One entry of the header's toggle: this page's URL with `?lang=`. */
export interface LangLink {
  lang: Lang;
  /** The language's own name for itself (English, 한국어): the same in every catalog. */
  label: string;
  href: string;
  current: boolean;
}

/** This page in every language: its own path and query with `lang` replaced. */
export function langLinks(req: Request, current: Lang): LangLink[] {
  return LANGS.map((lang) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query)) if (k !== 'lang' && typeof v === 'string') q.append(k, v);
    q.set('lang', lang);
    return { lang, label: translator(lang).t(`lang.${lang}`), href: `${req.baseUrl}${req.path}?${q}`, current: lang === current };
  });
}

/**
 * Middleware for the HTML pages: picks the language, remembers a `?lang=` choice in the
 * cookie, and hands the views `res.locals.lang` and the toggle's links. Varies on the
 * headers it read, so no cache serves one language's page for another.
 */
export function pageLanguage(req: Request, res: Response, next: NextFunction): void {
  const asked = req.query.lang;
  let lang: Lang;
  if (isLang(asked)) {
    lang = asked;
    if (cookieLang(req) !== asked) {
      res.append('Set-Cookie', stringifySetCookie({ name: LANG_COOKIE, value: asked, path: '/', sameSite: 'lax', httpOnly: true, maxAge: COOKIE_MAX_AGE_S }));
    }
  } else {
    lang = requestLang(req);
  }
  res.vary('Accept-Language');
  res.vary('Cookie');
  res.locals.lang = lang;
  res.locals.langLinks = langLinks(req, lang);
  next();
}

/**
 * An API failure for a reader of `tr`'s language: the code stays (it is the contract) and so
 * does every other field; `message` becomes the code's summary in that language with the
 * server's specifics after it (names, values, a runbook's own words). English is unchanged.
 */
export function localizedFailure<F extends { code: string; message: string }>(f: F, tr: Translator): F {
  if (tr.lang === DEFAULT_UI_LANG) return f;
  const key = `code.${f.code}`;
  if (!(key in CATALOGS.en)) return f;
  const summary = tr.t(key as MessageKey);
  return { ...f, message: f.message ? tr.t('api.failure', { summary, detail: f.message }) : summary };
}
