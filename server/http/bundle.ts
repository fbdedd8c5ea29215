// Builds the browser assets in memory at start-up, so `npm ci && npm start` needs no separate
// build step: one stylesheet every page shares (static/app.css) and one script per page that
// has one, each under a content-hashed name so it can be cached for good. Only the step page
// bundles xterm.js and only the report page the asciinema player (with their stylesheets).
import path from 'node:path';
import zlib from 'node:zlib';
import * as esbuild from 'esbuild';

export const STATIC_DIR = path.resolve(import.meta.dirname, '../../static');

/** The pages that run a script, each with its entry module under static/entries/. */
export const SCRIPTED_PAGES = ['overview', 'step', 'report', 'approvals', 'fleet', 'class', 'classes'] as const;
export type ScriptedPage = (typeof SCRIPTED_PAGES)[number];

export interface Asset {
  /** The URL path it is served at: /static/<name>-<hash>.<ext>. */
  url: string;
  type: 'application/javascript' | 'text/css';
  body: Buffer;
  /** Compressed once here, not on every request. */
  gzip: Buffer;
}

export interface Bundle {
  /** By URL path. */
  assets: Map<string, Asset>;
  /** The shared stylesheet's URL. */
  css: string;
  /** Per page: its script, and its libraries' stylesheet (loaded before app.css). */
  pages: Partial<Record<string, { js?: string; css?: string }>>;
}

export interface BundleOptions {
  /**
   * Compile in the hooks end-to-end tests read (window.__stepwise: the terminal, the player);
   * left out, the minifier drops them from the bundle.
   */
  testHooks?: boolean;
}

export async function buildBundle(opts: BundleOptions = {}): Promise<Bundle> {
  const result = await esbuild.build({
    entryPoints: [
      { in: path.join(STATIC_DIR, 'app.css'), out: 'app' },
      ...SCRIPTED_PAGES.map((p) => ({ in: path.join(STATIC_DIR, 'entries', `${p}.ts`), out: p })),
    ],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    outdir: '/static',
    entryNames: '[name]-[hash]',
    loader: { '.css': 'css' },
    define: { __STEPWISE_TEST_HOOKS__: opts.testHooks ? 'true' : 'false' },
    metafile: true,
    logLevel: 'silent',
  });
  const assets = new Map<string, Asset>();
  for (const f of result.outputFiles) {
    const url = '/static/' + path.basename(f.path);
    const body = Buffer.from(f.contents);
    assets.set(url, { url, type: url.endsWith('.css') ? 'text/css' : 'application/javascript', body, gzip: zlib.gzipSync(body, { level: 9 }) });
  }
  // Which output came from which entry: esbuild's metafile names each output's entry point.
  const byEntry = new Map<string, { js?: string; css?: string }>();
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    // A script's stylesheet (what it imports) has no entry point of its own: its cssBundle.
    const name = meta.entryPoint ? path.basename(meta.entryPoint).replace(/\.(ts|css)$/, '') : undefined;
    const url = '/static/' + path.basename(out);
    if (!name) continue;
    const slot = byEntry.get(name) ?? {};
    if (url.endsWith('.css')) slot.css = url;
    else slot.js = url;
    if (meta.cssBundle) slot.css = '/static/' + path.basename(meta.cssBundle);
    byEntry.set(name, slot);
  }
  const css = byEntry.get('app')?.css;
  if (!css) throw new Error('bundle: no stylesheet was built from static/app.css');
  const pages: Bundle['pages'] = {};
  for (const p of SCRIPTED_PAGES) pages[p] = byEntry.get(p);
  return { assets, css, pages };
}
