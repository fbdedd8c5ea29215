// Server-side rendering: handlebars views from views/ (auto-escaped) and markdown-it with
// raw HTML disabled, so nothing in a runbook can inject markup or script.
import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import MarkdownIt from 'markdown-it';

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
    return t(data, { data: { csrfToken, cspNonce } });
  }
}
