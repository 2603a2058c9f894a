// Markdown to safe HTML for the preview: markdown-it renders (raw HTML
// allowed, since people paste it), DOMPurify removes scripts, event
// handlers and dangerous URLs. The result is safe to assign to innerHTML.
import DOMPurify from 'dompurify';
import MarkdownIt from 'markdown-it';
import { taskLists, wikiLinks } from './links';
import { FILE_ID, fileUrl } from '../api/files';

const md = new MarkdownIt({ html: true, linkify: true, typographer: true, breaks: false }).use(wikiLinks).use(taskLists);

// Attached files (`![name](outpost-file:ID)`, `[name](outpost-file:ID)`):
// the id moves to `data-file-id` (DOMPurify drops the unknown scheme), and
// the sanitiser's hook below gives an image the shell's protocol URL and a
// link the file card's class. Nothing else reaches that protocol.
const FILE_REF = /^outpost-file:([0-9a-f]{64})$/i;
const renderImage = md.renderer.rules.image;
md.renderer.rules.image = (tokens, idx, options, env, self) => {
  const token = tokens[idx];
  const m = token && FILE_REF.exec(token.attrGet('src') ?? '');
  if (token && m?.[1]) {
    token.attrSet('src', '');
    token.attrSet('data-file-id', m[1].toLowerCase());
  }
  return renderImage ? renderImage(tokens, idx, options, env, self) : self.renderToken(tokens, idx, options);
};
const renderLinkOpen = md.renderer.rules.link_open;
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const token = tokens[idx];
  const m = token && FILE_REF.exec(token.attrGet('href') ?? '');
  if (token && m?.[1]) {
    token.attrSet('href', '#');
    token.attrSet('data-file-id', m[1].toLowerCase());
  }
  return renderLinkOpen ? renderLinkOpen(tokens, idx, options, env, self) : self.renderToken(tokens, idx, options);
};

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
    const fileId = node.getAttribute('data-file-id');
    if (fileId !== null && !FILE_ID.test(fileId)) node.removeAttribute('data-file-id');
    if (node.nodeName === 'A' && fileId !== null && FILE_ID.test(fileId)) {
      node.setAttribute('href', '#');
      node.setAttribute('class', 'file-card');
    }
    if (node.nodeName === 'IMG' && fileId !== null && FILE_ID.test(fileId)) {
      node.setAttribute('src', fileUrl(fileId));
      node.setAttribute('class', 'file-image');
      if (!node.getAttribute('alt')) node.setAttribute('alt', 'attached image');
    } else if (node.nodeName === 'IMG') {
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
