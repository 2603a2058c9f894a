import { createMemo } from 'solid-js';
import { classifyLink } from '../lib/links';
import { renderMarkdown } from '../lib/markdown';

export interface PreviewProps {
  source: string;
  /** A `[[Title]]` link was clicked. */
  onNoteLink?: (title: string) => void;
  /** A web or mail link was clicked (the app asks before it opens). */
  onExternalLink?: (url: string) => void;
  /** A task's checkbox on this source line (0-based) was clicked. */
  onToggleTask?: (line: number) => void;
}

/** The sanitised Markdown preview. Links never navigate the app window. */
export function Preview(props: PreviewProps) {
  const html = createMemo(() => renderMarkdown(props.source));
  function toggle(box: HTMLElement) {
    const line = Number(box.getAttribute('data-task-line'));
    if (Number.isInteger(line) && line >= 0) props.onToggleTask?.(line);
  }
  function onClick(e: MouseEvent) {
    const target = e.target as HTMLElement | null;
    const box = target?.closest<HTMLElement>('.task-box');
    if (box) {
      e.preventDefault();
      toggle(box);
      return;
    }
    const a = target?.closest('a');
    if (!a) return;
    const link = classifyLink(a);
    if (link.kind === 'anchor') return;
    // The webview is the app: following a link would replace it.
    e.preventDefault();
    if (link.kind === 'note') props.onNoteLink?.(link.title);
    else if (link.kind === 'external') props.onExternalLink?.(link.url);
  }
  function onKeyDown(e: KeyboardEvent) {
    const box = (e.target as HTMLElement | null)?.closest<HTMLElement>('.task-box');
    if (box && (e.key === ' ' || e.key === 'Enter')) {
      e.preventDefault();
      toggle(box);
    }
  }
  return (
    <article
      class="preview markdown"
      data-testid="preview"
      aria-label="Preview"
      tabindex="0"
      onClick={onClick}
      onKeyDown={onKeyDown}
      // eslint-disable-next-line solid/no-innerhtml -- sanitised by DOMPurify in renderMarkdown
      innerHTML={html()}
    />
  );
}

export default Preview;
