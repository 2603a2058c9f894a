// The conflict view's model: what it says, which buttons it offers and what
// each one sends to `resolve_conflict`; and a line diff to highlight what
// each side changed against the base.
import type { ConflictKind, ConflictView, Resolution } from '../api/types';

export interface ConflictAction {
  id: 'mine' | 'theirs' | 'keep_merged' | 'edit';
  label: string;
  /** What the button does, for its tooltip. */
  hint: string;
  primary: boolean;
  testid: string;
}

export interface ConflictModel {
  kindLabel: string;
  explanation: string;
  reassurance: string;
  actions: ConflictAction[];
  settled: boolean;
}

export function kindLabel(kind: ConflictKind | string): string {
  switch (kind) {
    case 'overlap':
      return 'Overlapping edits';
    case 'confirm':
      return 'To confirm';
    case 'restored':
      return 'Restored';
    case 'last_writer_wins':
      return 'Latest edit kept';
    default:
      return 'Conflict';
  }
}

export function conflictModel(c: ConflictView): ConflictModel {
  const deletedMine = c.mine.deleted;
  const deletedTheirs = c.theirs.deleted;
  let explanation: string;
  switch (c.kind) {
    case 'overlap':
      explanation =
        'This note was changed here and on another device in the same place. Both versions are in the note, between conflict markers, until you choose.';
      break;
    case 'confirm':
      explanation =
        'This note was changed here and on another device. The changes were merged; your conflict strategy asks you to confirm the result.';
      break;
    case 'restored':
      explanation = deletedTheirs
        ? 'Another device deleted this note while you edited it here. Your edit won and the note is back.'
        : 'You deleted this note here while another device edited it. The edit won and the note is back.';
      break;
    case 'last_writer_wins':
      explanation = 'This note was changed on two devices; the latest edit was kept whole. The other version is shown here.';
      break;
    default:
      explanation = 'This note was changed on two devices.';
  }
  const actions: ConflictAction[] = [];
  if (c.kind === 'confirm' || c.kind === 'restored') {
    actions.push({
      id: 'keep_merged',
      label: c.kind === 'restored' ? 'Keep the note' : 'Keep merged',
      hint: 'Keep the note as it is now.',
      primary: true,
      testid: 'conflict-keep-merged',
    });
  }
  actions.push(
    {
      id: 'mine',
      label: deletedMine ? 'Keep mine (deleted)' : 'Keep mine',
      hint: deletedMine ? 'Delete the note, as this device did.' : "Use this device's version and drop the other one's changes.",
      primary: false,
      testid: 'conflict-keep-mine',
    },
    {
      id: 'theirs',
      label: deletedTheirs ? 'Take theirs (deleted)' : 'Take theirs',
      hint: deletedTheirs ? 'Delete the note, as the other device did.' : "Use the other device's version.",
      primary: false,
      testid: 'conflict-take-theirs',
    },
    {
      id: 'edit',
      label: 'Edit and save',
      hint: 'Open the merged text, with the conflict markers, and save what you want.',
      primary: c.kind === 'overlap',
      testid: 'conflict-edit',
    },
  );
  return {
    kindLabel: kindLabel(c.kind),
    explanation,
    reassurance: 'Nothing has been lost: both versions are kept until you choose.',
    actions,
    settled: c.resolved_at !== null,
  };
}

/** What a button sends. `edit` sends the body the user saved from the editor. */
export function resolutionFor(action: ConflictAction['id'], currentBody: string, editedBody?: string): Resolution {
  switch (action) {
    case 'mine':
      return { kind: 'mine' };
    case 'theirs':
      return { kind: 'theirs' };
    case 'keep_merged':
      return { kind: 'merged', body: currentBody };
    case 'edit':
      return { kind: 'merged', body: editedBody ?? currentBody };
  }
}

// `=======` alone is also a Markdown heading underline: only the angle markers count.
const MARKERS = /^(<{7}|>{7})( |$)/m;

/** Whether a body still holds conflict markers (warn before saving it). */
export function hasConflictMarkers(body: string): boolean {
  return MARKERS.test(body);
}

export type LineMark = 'same' | 'changed';

export interface DiffLine {
  text: string;
  mark: LineMark;
}

/**
 * Mark each line of `side` that is not part of its longest common
 * subsequence with `base`: the lines this side added or changed. Bodies
 * beyond `limit` lines each (very long notes) are shown unmarked rather
 * than spending seconds on the diff.
 */
export function diffLines(base: string | null, side: string, limit = 4000): DiffLine[] {
  const b = side.split('\n');
  if (base === null) return b.map((text) => ({ text, mark: 'same' }));
  const a = base.split('\n');
  // Trim the common head and tail first: most edits are local.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const marks: LineMark[] = new Array(b.length).fill('same');
  if (am.length === 0) {
    for (let i = head; i < b.length - tail; i++) marks[i] = 'changed';
  } else if (bm.length > 0) {
    if (am.length > limit || bm.length > limit) {
      for (let i = head; i < b.length - tail; i++) marks[i] = 'changed';
    } else {
      const keep = lcsKeep(am, bm);
      for (let j = 0; j < bm.length; j++) if (!keep[j]) marks[head + j] = 'changed';
    }
  }
  return b.map((text, i) => ({ text, mark: marks[i] ?? 'same' }));
}

/** For each line of `b`, whether it is in an LCS of `a` and `b`. */
function lcsKeep(a: string[], b: string[]): boolean[] {
  const n = a.length;
  const m = b.length;
  const w = m + 1;
  const t = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      t[i * w + j] = a[i] === b[j] ? t[(i + 1) * w + j + 1]! + 1 : Math.max(t[(i + 1) * w + j]!, t[i * w + j + 1]!);
    }
  }
  const keep = new Array<boolean>(m).fill(false);
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      keep[j] = true;
      i++;
      j++;
    } else if (t[(i + 1) * w + j]! >= t[i * w + j + 1]!) i++;
    else j++;
  }
  return keep;
}
