import { lazy } from 'solid-js';

/**
 * The editor in its own chunk. CodeMirror and the Markdown parser are most
 * of the UI's code; loading them only when a note opens lets the list paint
 * sooner at start-up. `preloadEditor` fetches the chunk once the list is on
 * screen, so it is normally there before the first note is opened.
 */
export const Editor = lazy(() => import('./Editor').then((m) => ({ default: m.Editor })));

export function preloadEditor(): void {
  // A failed fetch is retried by the next render that needs the editor.
  Editor.preload().catch(() => undefined);
}

export type { EditorHandle, EditorProps } from './Editor';
