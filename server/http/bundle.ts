// Builds the browser bundle (static/app.ts and what it imports) in memory at start-up, so
// `npm ci && npm start` needs no separate build step.
import path from 'node:path';
import * as esbuild from 'esbuild';

export const STATIC_DIR = path.resolve(import.meta.dirname, '../../static');

export interface Bundle {
  js: string;
  css: string;
}

export async function buildBundle(): Promise<Bundle> {
  const result = await esbuild.build({
    entryPoints: [path.join(STATIC_DIR, 'app.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    outdir: 'out',
    loader: { '.css': 'css' },
    logLevel: 'silent',
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'))?.text ?? '';
  const css = result.outputFiles.find((f) => f.path.endsWith('.css'))?.text ?? '';
  return { js, css };
}
