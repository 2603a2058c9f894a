// Global keyboard shortcuts. `Mod` is Cmd on macOS and Ctrl elsewhere.
//
// Ctrl+F is layered as in Obsidian or VS Code: inside the editor it finds
// in the note (CodeMirror's search panel); anywhere else it focuses the
// notes search. Ctrl+K and Ctrl+Shift+F always focus the notes search.

export type Action = 'new_note' | 'focus_search' | 'sync_now' | 'toggle_preview' | 'close' | 'help';

export interface KeyLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
}

export interface KeyContext {
  isMac: boolean;
  /** Focus is in the note editor (CodeMirror). */
  inEditor: boolean;
}

export function isMacPlatform(platform: string): boolean {
  return /Mac|iPhone|iPad|iPod/i.test(platform);
}

export function matchShortcut(e: KeyLike, ctx: KeyContext): Action | null {
  if (e.key === 'Escape' && !e.ctrlKey && !e.metaKey && !e.altKey) return 'close';
  if (e.key === 'F1') return 'help';
  const mod = ctx.isMac ? e.metaKey && !e.ctrlKey : e.ctrlKey && !e.metaKey;
  if (!mod || e.altKey) return null;
  const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (e.shiftKey) return k === 'f' ? 'focus_search' : null;
  switch (k) {
    case 'n':
      return 'new_note';
    case 'k':
      return 'focus_search';
    case 'f':
      return ctx.inEditor ? null : 'focus_search';
    case 's':
      return 'sync_now';
    case 'e':
      return 'toggle_preview';
    case '/':
      return 'help';
    default:
      return null;
  }
}

export type Handlers = Partial<Record<Action, () => boolean | void>>;

/**
 * Run the handler for `e`; true if it was handled (the caller then prevents
 * the default). A handler returning false passes the key on (Escape with
 * nothing open).
 */
export function dispatchShortcut(e: KeyLike, ctx: KeyContext, handlers: Handlers): boolean {
  const action = matchShortcut(e, ctx);
  if (!action) return false;
  const h = handlers[action];
  if (!h) return false;
  return h() !== false;
}

/** The shortcuts list shown in help and settings. */
export function shortcutList(isMac: boolean): { keys: string; what: string }[] {
  const m = isMac ? '⌘' : 'Ctrl+';
  return [
    { keys: `${m}N`, what: 'New note' },
    { keys: `${m}K`, what: 'Search notes' },
    { keys: `${m}F`, what: 'Find in note (in the editor), else search notes' },
    { keys: `${m}Shift+F`, what: 'Search notes' },
    { keys: `${m}S`, what: 'Save and sync now' },
    { keys: `${m}E`, what: 'Toggle Markdown preview' },
    { keys: `${m}Z / ${m}Shift+Z`, what: 'Undo / redo' },
    { keys: 'Escape', what: 'Close a dialog or panel' },
    { keys: `F1 or ${m}/`, what: 'Keyboard shortcuts' },
  ];
}
