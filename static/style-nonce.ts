// xterm.js draws its cell sizes and colours with <style> elements it creates at run time. The
// CSP allows no inline style (no style-src 'unsafe-inline'), only <style> elements carrying the
// response's nonce (<meta name="csp-nonce">): this gives xterm's elements that nonce, then
// sets their text again so the browser applies it.

/** Nonces <style> elements appearing under `root`; returns a stop function. */
export function nonceStyles(root: HTMLElement): () => void {
  const nonce = document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? '';
  if (!nonce) return () => {};
  const adopt = (el: HTMLStyleElement) => {
    if (el.nonce === nonce) return;
    el.nonce = nonce;
    el.textContent = el.textContent ?? '';
  };
  for (const el of root.querySelectorAll('style')) adopt(el);
  const observer = new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) {
        if (n instanceof HTMLStyleElement) adopt(n);
        else if (n instanceof HTMLElement) for (const el of n.querySelectorAll('style')) adopt(el);
      }
    }
  });
  observer.observe(root, { childList: true, subtree: true });
  return () => observer.disconnect();
}
