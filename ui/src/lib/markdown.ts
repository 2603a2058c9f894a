// Markdown to safe HTML for the preview: markdown-it renders (raw HTML
// allowed, since people paste it), DOMPurify removes scripts, event
// handlers and dangerous URLs. The result is safe to assign to innerHTML.
import DOMPurify from 'dompurify';
import MarkdownIt from 'markdown-it';
import { taskLists, wikiLinks } from './links';

const md = new MarkdownIt({ html: true, linkify: true, typographer: true, breaks: false }).use(wikiLinks).use(taskLists);

type Purifier = ReturnType<typeof DOMPurify>;
let purifier: Purifier | null = null;

const SAFE_URL = /^(?:https?:|mailto:|#|\/(?!\/)|\.{0,2}\/|[^:]*$)/i;

function getPurifier(win: Window & typeof globalThis): Purifier {
  if (purifier) return purifier;
  const p = DOMPurify(win);
  p.addHook('afterSanitizeAttributes', (node) => {
    if (node.nodeName === 'A') {
      const href = node.getAttribute('href');
      if (href !== null && !SAFE_URL.test(href.trim())) node.removeAttribute('href');
      node.setAttribute('rel', 'noopener noreferrer nofollow');
    }
    // No remote resources: images load only from data: and blob: URLs
    // (the CSP forbids the rest anyway; this avoids broken requests).
    if (node.nodeName === 'IMG') {
      const src = node.getAttribute('src') ?? '';
      if (!/^(data:image\/|blob:)/i.test(src)) {
        node.setAttribute('data-blocked-src', src);
        node.removeAttribute('src');
        node.setAttribute('alt', node.getAttribute('alt') || 'image (remote images are not loaded)');
      }
    }
  });
  purifier = p;
  return p;
}

export function renderMarkdown(source: string, win: Window & typeof globalThis = window): string {
  const html = md.render(source);
  return getPurifier(win).sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'object', 'embed'],
    FORBID_ATTR: ['style'],
  });
}
