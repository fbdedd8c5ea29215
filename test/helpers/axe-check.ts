// axe-core's WCAG 2 A/AA rules and the phone-width check for one open page, as test/a11y.test.ts
// runs them for the shared pages; the live dashboards' tests (fleet, class) call it on theirs.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'puppeteer-core';
import type { AxeResults } from 'axe-core';

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
/** A phone's width (an iPhone 12–15 in CSS pixels), and a desktop's. */
export const VIEWPORTS = [{ width: 1400, height: 900 }, { width: 390, height: 844 }];

/** Serious and critical axe violations of the page as it is now, and sideways scrolling, each as a line. */
export async function accessibilityProblems(p: Page, label: string): Promise<string[]> {
  if (!(await p.evaluate(() => 'axe' in window))) await p.evaluate(AXE_SOURCE);
  const results = await p.evaluate((tags: string[]) => (window as unknown as { axe: typeof import('axe-core') }).axe.run(document, { runOnly: { type: 'tag', values: tags } }), WCAG_TAGS) as AxeResults;
  const out = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${label}: ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join('\n    ')}`);
  const { width, viewport } = await p.evaluate(() => ({ width: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth), viewport: window.innerWidth }));
  if (width > viewport) {
    const culprits = await p.evaluate((w: number) => {
      const found: string[] = [];
      for (const el of document.querySelectorAll<HTMLElement>('body *')) {
        const r = el.getBoundingClientRect();
        if (r.right > w + 1 && r.width > 0 && found.length < 5) found.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} right=${Math.round(r.right)}`);
      }
      return found;
    }, viewport);
    out.push(`${label}: the page is ${width} px wide in a ${viewport} px window (${culprits.join(', ')})`);
  }
  return out;
}
