// What each page makes a browser download: its script and stylesheets as built (raw) and as
// sent (gzip), from the same bundle the server builds at start. A benchmark, not a test: it
// prints the numbers and never fails on them.
//   node --import tsx bench/assets.ts
import { buildBundle, SCRIPTED_PAGES } from '../server/http/bundle.ts';

const bundle = await buildBundle();
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
const sizes = (url: string | undefined) => {
  const a = url ? bundle.assets.get(url) : undefined;
  return a ? { raw: a.body.length, gzip: a.gzip.length } : { raw: 0, gzip: 0 };
};
const shared = sizes(bundle.css);
console.log(`shared stylesheet ${bundle.css}: ${kb(shared.raw)} raw, ${kb(shared.gzip)} gzip (cached once for every page)`);
console.log('page       script raw   script gzip   own css raw   own css gzip   first visit gzip');
for (const page of ['index', 'runs', ...SCRIPTED_PAGES]) {
  const own = bundle.pages[page];
  const js = sizes(own?.js);
  const css = sizes(own?.css);
  const total = js.gzip + css.gzip + shared.gzip;
  console.log(`${page.padEnd(10)} ${kb(js.raw).padStart(10)}   ${kb(js.gzip).padStart(11)}   ${kb(css.raw).padStart(11)}   ${kb(css.gzip).padStart(12)}   ${kb(total).padStart(16)}`);
}
