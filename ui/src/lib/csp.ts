// CodeMirror adds its styles in a <style> element at run time, which a
// strict `style-src 'self'` blocks unless the element carries the page's
// nonce. Tauri replaces the `__TAURI_STYLE_NONCE__` token in the built
// index.html with a fresh nonce per load and adds it to the CSP; we read it
// from the carrier element and hand it to `EditorView.cspNonce`.

export const NONCE_TOKEN = '__TAURI_STYLE_NONCE__';
export const NONCE_CARRIER_ID = 'csp-style-nonce';

interface NonceCarrier {
  nonce?: string;
  getAttribute(name: string): string | null;
}

export function readStyleNonce(root: { getElementById(id: string): unknown } | undefined): string {
  const el = root?.getElementById(NONCE_CARRIER_ID) as NonceCarrier | null | undefined;
  if (!el) return '';
  // Browsers hide the attribute once applied; the property keeps it.
  const n = el.nonce || el.getAttribute('nonce') || '';
  // `vite dev` serves the file as written: no nonce then.
  return n === NONCE_TOKEN ? '' : n;
}
