import { createMemo } from 'solid-js';
import { renderMarkdown } from '../lib/markdown';

/** The sanitised Markdown preview. Links do not navigate the app window. */
export function Preview(props: { source: string }) {
  const html = createMemo(() => renderMarkdown(props.source));
  function onClick(e: MouseEvent) {
    const a = (e.target as HTMLElement | null)?.closest('a');
    if (!a) return;
    const href = a.getAttribute('href') ?? '';
    if (href.startsWith('#')) return;
    // The webview is the app: following a link would replace it.
    e.preventDefault();
  }
  return (
    <article
      class="preview markdown"
      data-testid="preview"
      aria-label="Preview"
      tabindex="0"
      onClick={onClick}
      // eslint-disable-next-line solid/no-innerhtml -- sanitised by DOMPurify in renderMarkdown
      innerHTML={html()}
    />
  );
}

export default Preview;
