// The interface's languages: the message catalogs (en.ts, ko.ts) and the formatter both the
// server and the browser use, so a label reads the same whether it was rendered on load or
// arrived live. Messages are whole ICU sentences (intl-messageformat): arguments and plurals
// are filled in by the library, nothing user-facing is glued together from fragments.
// No DOM or Node imports.
import { IntlMessageFormat } from 'intl-messageformat';
import { en, type MessageKey } from './en.ts';
import { ko } from './ko.ts';

export type { MessageKey } from './en.ts';

export type Lang = 'en' | 'ko';
/** English first: the default when nothing else is asked for. */
export const LANGS: readonly Lang[] = ['en', 'ko'];
export const DEFAULT_UI_LANG: Lang = 'en';

/** The cookie remembering the header's language toggle. */
export const LANG_COOKIE = 'stepwise_lang';

/** The locale `Intl` formats numbers and dates in for each language. */
const LOCALE: Record<Lang, string> = { en: 'en-US', ko: 'ko-KR' };

export const CATALOGS: Record<Lang, Readonly<Record<MessageKey, string>>> = { en, ko };

export type MessageArgs = Record<string, string | number>;

export interface Translator {
  readonly lang: Lang;
  /** The BCP 47 locale for `Intl` (en-US, ko-KR). */
  readonly locale: string;
  t(key: MessageKey, args?: MessageArgs): string;
  /** A number in the locale's digits and separators. */
  number(n: number, opts?: Intl.NumberFormatOptions): string;
}

export function isLang(x: unknown): x is Lang {
  return typeof x === 'string' && (LANGS as readonly string[]).includes(x);
}

/** `ko`, `ko-KR`, `ko_KR.UTF-8` → ko; anything else we have no catalog for → undefined. */
export function langOf(tag: string | undefined | null): Lang | undefined {
  if (!tag) return undefined;
  const primary = tag.trim().toLowerCase().split(/[-_.@]/)[0];
  return isLang(primary) ? primary : undefined;
}

/**
 * The best of our languages for an Accept-Language header (RFC 9110 §12.5.4): highest q
 * first, ties in the header's order; `*` and languages we lack are passed over.
 */
export function negotiate(header: string | undefined | null): Lang | undefined {
  if (!header) return undefined;
  const ranked = header
    .split(',')
    .map((part, i) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p)).find((m) => m);
      return { lang: langOf(tag), q: q ? Number(q[1]) : 1, i };
    })
    .filter((x): x is { lang: Lang; q: number; i: number } => x.lang !== undefined && x.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  return ranked[0]?.lang;
}

/**
 * The CLI's language: `--lang`, else the POSIX locale variables in their order of precedence
 * (LC_ALL, then LC_MESSAGES, then LANG; the first one set decides, even when it is C).
 */
export function langFromEnv(flag: string | undefined, env: Record<string, string | undefined>): Lang {
  const fromFlag = langOf(flag);
  if (fromFlag) return fromFlag;
  const posix = [env.LC_ALL, env.LC_MESSAGES, env.LANG].find((v) => v !== undefined && v !== '');
  return langOf(posix) ?? DEFAULT_UI_LANG;
}

const formats = new Map<string, IntlMessageFormat>();
const translators = new Map<Lang, Translator>();

export function translator(lang: Lang): Translator {
  const known = translators.get(lang);
  if (known) return known;
  const locale = LOCALE[lang];
  const catalog = CATALOGS[lang];
  const tr: Translator = {
    lang,
    locale,
    t(key, args) {
      const id = `${lang}\u0000${key}`;
      let f = formats.get(id);
      if (!f) {
        // A key missing from a catalog is a bug the catalog test catches; English is the fallback.
        f = new IntlMessageFormat(catalog[key] ?? en[key] ?? key, locale, undefined, { ignoreTag: true });
        formats.set(id, f);
      }
      return String(f.format(args));
    },
    number(n, opts) {
      return new Intl.NumberFormat(locale, opts).format(n);
    },
  };
  translators.set(lang, tr);
  return tr;
}

/** The English translator: the default wherever no language was chosen. */
export const EN: Translator = translator('en');
