import { createEffect, createMemo, onCleanup } from 'solid-js';
import { fileUrl, formatBytes, type NoteFile } from '../api/files';
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
  /** A file card (an attached file that is not an image) was clicked: save it. */
  onFile?: (id: string, name: string) => void;
  /** The note's files, for the cards' sizes. */
  files?: NoteFile[];
}

/** How often, and how long apart, an image still downloading is asked for again. */
export const IMAGE_RETRIES = 60;
export const IMAGE_RETRY_MS = 2000;

/** The sanitised Markdown preview. Links never navigate the app window. */
export function Preview(props: PreviewProps) {
  const html = createMemo(() => renderMarkdown(props.source));
  let article!: HTMLElement;
  // An attached image not on this device yet answers 503 while the engine
  // downloads it: ask again a while later, a bounded number of times.
  const timers = new Set<ReturnType<typeof setTimeout>>();
  function onImageError(e: Event) {
    const img = e.target as HTMLImageElement | null;
    const id = img?.getAttribute?.('data-file-id');
    if (!img || img.nodeName !== 'IMG' || !id) return;
    const tries = Number(img.getAttribute('data-tries') ?? '0') + 1;
    img.setAttribute('data-tries', String(tries));
    if (tries > IMAGE_RETRIES) {
      img.classList.add('file-missing');
      return;
    }
    img.classList.add('file-loading');
    const t = setTimeout(() => {
      timers.delete(t);
      img.setAttribute('src', `${fileUrl(id)}?try=${tries}`);
    }, IMAGE_RETRY_MS);
    timers.add(t);
  }
  function onImageLoad(e: Event) {
    (e.target as HTMLElement | null)?.classList?.remove('file-loading');
  }
  onCleanup(() => timers.forEach(clearTimeout));
  // The cards' names and sizes, from the note's files.
  createEffect(() => {
    html();
    const files = new Map((props.files ?? []).map((f) => [f.id, f]));
    for (const a of Array.from(article.querySelectorAll<HTMLElement>('a[data-file-id]'))) {
      a.classList.add('file-card');
      const f = files.get(a.getAttribute('data-file-id') ?? '');
      a.setAttribute('title', 'Save…');
      if (f) a.setAttribute('data-size', formatBytes(f.size));
    }
  });
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
    const fileId = a.getAttribute('data-file-id');
    if (fileId) {
      e.preventDefault();
      props.onFile?.(fileId, a.textContent?.trim() || 'file');
      return;
    }
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
      ref={(el) => {
        article = el;
        // `error` and `load` do not bubble: caught on the way down.
        el.addEventListener('error', onImageError, true);
        el.addEventListener('load', onImageLoad, true);
      }}
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
