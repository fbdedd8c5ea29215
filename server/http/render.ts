// Server-side rendering: handlebars views from views/ (auto-escaped) and markdown-it with
// raw HTML disabled, so nothing in a runbook can inject markup or script.
import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import MarkdownIt from 'markdown-it';
import { EN, isLang, translator, type MessageKey, type Translator } from '../../common/i18n/index.ts';
import { statusLabel } from '../../common/format.ts';

export const VIEWS_DIR = path.resolve(import.meta.dirname, '../../views');

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
// markdown-it already refuses javascript:/vbscript:/data: links (validateLink).

export function renderMarkdown(src: string): string {
  return md.render(src);
}

/** The built assets' URLs the layout links (server/http/bundle.ts). */
export interface PageAssets {
  css: string;
  pages: Partial<Record<string, { js?: string; css?: string }>>;
}

/** What a response hands its view besides the data: the CSRF token, the CSP nonce. */
export interface ViewLocals {
  csrfToken?: unknown;
  cspNonce?: unknown;
  /** The page's language (server/http/language.ts): `{{t}}` reads `@lang`. */
  lang?: unknown;
  /** The header's language toggle: this page's URL in each language. */
  langLinks?: unknown;
  /** Who asks (server/http/guard.ts): the header links Classes for a trainer or an admin. */
  principal?: unknown;
}

/** The translator of the data frame's `@lang` (English when the page set none). */
function frameTranslator(options: Handlebars.HelperOptions | undefined): Translator {
  const lang: unknown = options?.data?.lang;
  return isLang(lang) ? translator(lang) : EN;
}

export class Views {
  private readonly hb = Handlebars.create();
  private readonly cache = new Map<string, Handlebars.TemplateDelegate>();

  constructor(
    private readonly assets: PageAssets = { css: '', pages: {} },
    private readonly dir: string = VIEWS_DIR,
    private readonly reload = false,
  ) {
    this.hb.registerHelper('markdown', (src: unknown) => new Handlebars.SafeString(renderMarkdown(String(src ?? ''))));
    this.hb.registerHelper('json', (v: unknown) =>
      // For <script type="application/json">: escape < so "</script>" cannot close the tag.
      new Handlebars.SafeString(JSON.stringify(v ?? null).replace(/</g, '\\u003c').replace(/\u2028|\u2029/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'))),
    );
    this.hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
    // {{t "key" name=value}}: one whole catalog message, its ICU arguments from the hash
    // (escaped by handlebars like any other value).
    this.hb.registerHelper('t', (key: unknown, options: Handlebars.HelperOptions) =>
      frameTranslator(options).t(String(key) as MessageKey, options.hash as Record<string, string | number>),
    );
    // {{status "passed"}}: a status code as a word of the page's language (data-status keeps the code).
    this.hb.registerHelper('statusWord', (code: unknown, options: Handlebars.HelperOptions) => statusLabel(String(code ?? ''), frameTranslator(options)));
    // {{tlink "key" arg=value linkArg="arg" href=url}}: a whole message one of whose arguments
    // is shown as a link (<a href><code>value</code></a>; code=false: plain text): the message is formatted with a
    // marker in that argument's place, escaped, and the marker replaced by the escaped link.
    // {{tlinks "key" arg=items dataAttr="child-run"}}: like tlink, the argument a list of
    // {id, href} shown as links joined the locale's way (Intl.ListFormat: "a, b and c").
    this.hb.registerHelper('tlinks', (key: unknown, options: Handlebars.HelperOptions) => {
      const { dataAttr, ...args } = options.hash as Record<string, unknown>;
      const name = Object.keys(args).find((k) => Array.isArray(args[k])) ?? '';
      const items = (args[name] as Array<{ id: string; href: string }> | undefined) ?? [];
      const tr = frameTranslator(options);
      const marker = (i: number) => `\u0000${i}\u0000`;
      const list = new Intl.ListFormat(tr.locale, { type: 'conjunction' }).format(items.map((_, i) => marker(i)));
      const esc = Handlebars.Utils.escapeExpression;
      let html = esc(tr.t(String(key) as MessageKey, { [name]: list }));
      items.forEach((it, i) => {
        const data = dataAttr ? ` data-${esc(String(dataAttr))}="${esc(it.id)}"` : '';
        html = html.split(marker(i)).join(`<a href="${esc(it.href)}"${data}><code>${esc(it.id)}</code></a>`);
      });
      return new Handlebars.SafeString(html);
    });
    this.hb.registerHelper('tlink', (key: unknown, options: Handlebars.HelperOptions) => {
      const { linkArg, href, code, ...args } = options.hash as Record<string, string | number | boolean>;
      const name = String(linkArg);
      const value = String(args[name] ?? '');
      const marker = '\u0000link\u0000';
      const text = frameTranslator(options).t(String(key) as MessageKey, { ...(args as Record<string, string | number>), [name]: marker });
      const esc = Handlebars.Utils.escapeExpression;
      const shown = code === false ? esc(value) : `<code>${esc(value)}</code>`;
      const link = `<a href="${esc(String(href ?? ''))}">${shown}</a>`;
      return new Handlebars.SafeString(esc(text).split(marker).join(link));
    });
    // The layout's <link>/<script> for a page: only the step page loads xterm.js, only the
    // report page the player; pages without a script load none.
    this.hb.registerHelper('pageScript', (page: unknown) => this.assets.pages[String(page)]?.js ?? '');
    this.hb.registerHelper('pageStyle', (page: unknown) => this.assets.pages[String(page)]?.css ?? '');
    this.hb.registerHelper('appStyle', () => this.assets.css);
    const partials = path.join(dir, 'partials');
    if (fs.existsSync(partials)) {
      for (const f of fs.readdirSync(partials).filter((n) => n.endsWith('.hbs'))) {
        this.hb.registerPartial(f.slice(0, -4), fs.readFileSync(path.join(partials, f), 'utf8'));
      }
    }
  }

  /**
   * `locals` are the request's (res.locals): the layout reads `@csrfToken` from them for its
   * <meta name="csrf-token">, which the page script sends back as X-CSRF-Token, and
   * `@cspNonce` for <meta name="csp-nonce"> (static/style-nonce.ts).
   */
  render(name: string, data: Record<string, unknown>, locals?: ViewLocals): string {
    let t = this.reload ? undefined : this.cache.get(name);
    if (!t) {
      t = this.hb.compile(fs.readFileSync(path.join(this.dir, `${name}.hbs`), 'utf8'), { strict: false });
      this.cache.set(name, t);
    }
    const csrfToken = typeof locals?.csrfToken === 'string' ? locals.csrfToken : undefined;
    const cspNonce = typeof locals?.cspNonce === 'string' ? locals.cspNonce : undefined;
    const lang = isLang(locals?.lang) ? locals.lang : EN.lang;
    const role = (locals?.principal as { role?: unknown } | undefined)?.role;
    const teaches = role === 'trainer' || role === 'admin';
    return t(data, { data: { csrfToken, cspNonce, lang, langLinks: locals?.langLinks ?? [], teaches } });
  }
}
