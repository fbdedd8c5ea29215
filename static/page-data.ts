// Reads the data a page passes to its script: <script type="application/json" id="page-data">
// (CSP forbids inline scripts, so data travels as inert JSON).

export function readPageData<T>(): T | undefined {
  const el = document.getElementById('page-data');
  if (!el?.textContent) return undefined;
  try {
    return JSON.parse(el.textContent) as T;
  } catch {
    return undefined;
  }
}
