import { describe, expect, it } from 'vitest';
import type { ConflictView, VersionView } from '../api/types';
import { conflictModel, diffLines, hasConflictMarkers, kindLabel, resolutionFor } from './conflict';

const v = (body: string, deleted = false): VersionView => ({ title: 'T', body, tags: [], pinned: false, deleted, hlc: 'h' });

function conflict(p: Partial<ConflictView> = {}): ConflictView {
  return {
    id: 7,
    note_id: 'n1',
    kind: 'overlap',
    opened_at: 0,
    resolved_at: null,
    resolution: null,
    base_body: 'a\nb\nc',
    mine: v('a\nB-mine\nc'),
    theirs: v('a\nB-theirs\nc'),
    ...p,
  };
}

describe('conflict view model', () => {
  it('overlap: keep mine, take theirs, edit (primary), and says nothing is lost', () => {
    const m = conflictModel(conflict());
    expect(m.kindLabel).toBe('Overlapping edits');
    expect(m.actions.map((a) => a.id)).toEqual(['mine', 'theirs', 'edit']);
    expect(m.actions.find((a) => a.primary)!.id).toBe('edit');
    expect(m.reassurance).toMatch(/Nothing has been lost/);
    expect(m.actions.map((a) => a.testid)).toEqual(['conflict-keep-mine', 'conflict-take-theirs', 'conflict-edit']);
  });

  it('confirm: keeping the merge is the first choice', () => {
    const m = conflictModel(conflict({ kind: 'confirm' }));
    expect(m.kindLabel).toBe('To confirm');
    expect(m.actions.map((a) => a.id)).toEqual(['keep_merged', 'mine', 'theirs', 'edit']);
    expect(m.actions[0]!.primary).toBe(true);
  });

  it('restored: explains who deleted and labels the delete', () => {
    const m = conflictModel(conflict({ kind: 'restored', theirs: v('', true) }));
    expect(m.kindLabel).toBe('Restored');
    expect(m.explanation).toMatch(/Another device deleted/);
    expect(m.actions.map((a) => a.label)).toEqual(['Keep the note', 'Keep mine', 'Take theirs (deleted)', 'Edit and save']);
    const mineDeleted = conflictModel(conflict({ kind: 'restored', mine: v('', true) }));
    expect(mineDeleted.explanation).toMatch(/You deleted/);
  });

  it('labels each kind', () => {
    expect(kindLabel('overlap')).toBe('Overlapping edits');
    expect(kindLabel('confirm')).toBe('To confirm');
    expect(kindLabel('restored')).toBe('Restored');
    expect(kindLabel('last_writer_wins')).toBe('Latest edit kept');
    expect(kindLabel('something_new')).toBe('Conflict');
  });

  it('what each resolution sends', () => {
    expect(resolutionFor('mine', 'cur')).toEqual({ kind: 'mine' });
    expect(resolutionFor('theirs', 'cur')).toEqual({ kind: 'theirs' });
    expect(resolutionFor('keep_merged', 'cur')).toEqual({ kind: 'merged', body: 'cur' });
    expect(resolutionFor('edit', 'cur', 'edited')).toEqual({ kind: 'merged', body: 'edited' });
  });

  it('knows when markers are left in', () => {
    expect(hasConflictMarkers('a\n<<<<<<< ours\nx\n=======\ny\n>>>>>>> theirs\n')).toBe(true);
    expect(hasConflictMarkers('Heading\n=======\n')).toBe(false);
    expect(hasConflictMarkers('a == b\n<<< not a marker')).toBe(false);
  });
});

describe('diffLines', () => {
  it('marks the lines a side changed against the base', () => {
    expect(diffLines('a\nb\nc', 'a\nB\nc')).toEqual([
      { text: 'a', mark: 'same' },
      { text: 'B', mark: 'changed' },
      { text: 'c', mark: 'same' },
    ]);
  });

  it('marks added lines, and nothing for removals', () => {
    expect(diffLines('a\nc', 'a\nb\nc').map((l) => l.mark)).toEqual(['same', 'changed', 'same']);
    expect(diffLines('a\nb\nc', 'a\nc').map((l) => l.mark)).toEqual(['same', 'same']);
  });

  it('finds moved and scattered edits', () => {
    const base = ['1', '2', '3', '4', '5', '6'].join('\n');
    const side = ['1', 'x', '3', '4', 'y', '6', 'z'].join('\n');
    expect(diffLines(base, side).map((l) => l.mark)).toEqual(['same', 'changed', 'same', 'same', 'changed', 'same', 'changed']);
  });

  it('without a base nothing is marked', () => {
    expect(diffLines(null, 'a\nb').every((l) => l.mark === 'same')).toBe(true);
  });

  it('past the size limit the differing middle is marked whole', () => {
    const base = Array.from({ length: 50 }, (_, i) => `l${i}`).join('\n');
    const side = base.replace('l10', 'X').replace('l40', 'Y');
    const marks = diffLines(base, side, 10).map((l) => l.mark);
    expect(marks.slice(0, 10).every((m) => m === 'same')).toBe(true);
    expect(marks.slice(10, 41).every((m) => m === 'changed')).toBe(true);
    expect(marks.slice(41).every((m) => m === 'same')).toBe(true);
  });
});
