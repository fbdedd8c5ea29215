// xterm.js draws its cell sizes and colours with <style> elements it creates at run time. The
// CSP allows no inline style (no style-src 'unsafe-inline'), only <style> elements carrying the
// response's nonce (<meta name="csp-nonce">). xterm creates them while it opens: during that
// call every new <style> gets the nonce before it is filled; any made later is given it when
// it appears (its text is set again so the browser applies it).

function pageNonce(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? '';
}

/** Runs `open` (which creates <style> elements under `root`) so that they may apply. */
export function withNoncedStyles(root: HTMLElement, open: () => void): void {
  const nonce = pageNonce();
  if (!nonce) return open();
  const create = document.createElement;
  document.createElement = function (this: Document, tag: string, options?: ElementCreationOptions) {
    const el = create.call(this, tag, options);
    if (el instanceof HTMLStyleElement) el.nonce = nonce;
    return el;
  } as typeof document.createElement;
  try {
    open();
  } finally {
    document.createElement = create;
  }
  const adopt = (el: HTMLStyleElement) => {
    if (el.nonce === nonce) return;
    el.nonce = nonce;
    el.textContent = el.textContent ?? '';
  };
  for (const el of root.querySelectorAll('style')) adopt(el);
  new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) {
        if (n instanceof HTMLStyleElement) adopt(n);
        else if (n instanceof HTMLElement) for (const el of n.querySelectorAll('style')) adopt(el);
      }
    }
  }).observe(root, { childList: true, subtree: true });
}
