// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from './markdown';

function dom(html: string): HTMLElement {
  const d = document.createElement('div');
  d.innerHTML = html;
  return d;
}

describe('renderMarkdown', () => {
  it('renders Markdown', () => {
    const d = dom(renderMarkdown('# Title\n\nSome **bold** and `code`.\n\n- one\n- two'));
    expect(d.querySelector('h1')?.textContent).toBe('Title');
    expect(d.querySelector('strong')?.textContent).toBe('bold');
    expect(d.querySelectorAll('li')).toHaveLength(2);
  });

  it('removes <script> from a note', () => {
    const html = renderMarkdown('hello\n\n<script>alert(1)</script>\n\n<div><script>window.x=1</script>ok</div>');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/alert\(1\)/);
    expect(dom(html).textContent).toContain('ok');
  });

  it('removes event handlers such as onerror=', () => {
    const html = renderMarkdown('<img src="x" onerror="alert(1)">\n\n<p onclick="steal()">hi</p>\n\n<svg onload="alert(2)"></svg>');
    expect(html).not.toMatch(/onerror|onclick|onload/i);
  });

  it('neutralises javascript: links, in Markdown and in HTML', () => {
    const html = renderMarkdown(
      '[click](javascript:alert(1))\n\n<a href="javascript:alert(2)">x</a>\n\n<a href=" JaVaScRiPt:alert(3)">y</a>\n\n[d](data:text/html;base64,PHNjcmlwdD4=)',
    );
    // markdown-it leaves a refused link as plain text; no attribute may carry it.
    expect(html).not.toMatch(/(href|src)="\s*javascript:/i);
    expect(html).not.toMatch(/(href|src)="data:text\/html/i);
    for (const a of dom(html).querySelectorAll('a')) {
      const href = a.getAttribute('href');
      expect(href === null || /^(https?:|mailto:|#)/.test(href)).toBe(true);
    }
  });

  it('keeps ordinary links, marked noopener', () => {
    const a = dom(renderMarkdown('[site](https://example.org/page)')).querySelector('a')!;
    expect(a.getAttribute('href')).toBe('https://example.org/page');
    expect(a.getAttribute('rel')).toContain('noopener');
  });

  it('drops iframes, forms, styles and inline style attributes', () => {
    const html = renderMarkdown(
      '<iframe src="https://evil.example"></iframe><form action="x"><input></form><style>body{display:none}</style><p style="position:fixed">s</p>',
    );
    expect(html).not.toMatch(/<iframe|<form|<input|<style|style=/i);
  });

  it('loads no remote images', () => {
    const img = dom(renderMarkdown('![cat](https://example.org/cat.png)')).querySelector('img')!;
    expect(img.getAttribute('src')).toBeNull();
    expect(img.getAttribute('data-blocked-src')).toBe('https://example.org/cat.png');
  });
});
