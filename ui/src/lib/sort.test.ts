import { describe, expect, it } from 'vitest';
import type { NoteSummary } from '../api/types';
import { applyChanges, compareBy, highlightParts, pinnedCount, sortNotes, upsertSummary } from './search';

const n = (id: string, title: string, updated_at: number, pinned = false): NoteSummary => ({ id, title, updated_at, pinned, sync: 'synced' });

describe('sorting the list', () => {
  const notes = [n('a', 'banana', 30), n('b', 'Apple 10', 10), n('c', '', 50), n('d', 'apple 9', 20, true), n('e', 'cherry', 40)];
  const ids = (xs: readonly NoteSummary[]) => xs.map((x) => x.id).join('');

  it('by last edit, pinned first', () => {
    expect(ids(sortNotes(notes, compareBy('updated')))).toBe('dceab');
  });

  it('by title A to Z, numbers in order, case ignored, untitled last', () => {
    expect(ids(sortNotes(notes, compareBy('title')))).toBe('dbaec');
  });

  it('by creation, newest first; a note without a known time counts as made when last edited', () => {
    const created = new Map([
      ['a', 5],
      ['b', 45],
      ['c', 1],
    ]);
    expect(ids(sortNotes(notes, compareBy('created', created)))).toBe('dbeac');
  });

  it('keeps the order when a note changes or arrives', () => {
    const byTitle = compareBy('title');
    const list = sortNotes(notes, byTitle);
    expect(ids(upsertSummary(list, n('f', 'avocado', 99), '', byTitle))).toBe('dbfaec');
    expect(ids(applyChanges(list, ['e'], [n('e', 'aardvark', 1)], '', byTitle))).toBe('debac');
  });

  it('the pinned section is the pinned lines at the top, and none while searching', () => {
    const list = sortNotes(notes, compareBy('updated'));
    expect(pinnedCount(list, '')).toBe(1);
    expect(pinnedCount(list, 'apple')).toBe(0);
    expect(pinnedCount([], '')).toBe(0);
  });
});

describe('highlightParts', () => {
  it('cuts text at the matches and ignores ranges that do not fit', () => {
    expect(highlightParts('Water at the spring', [[13, 19], [0, 5]])).toEqual([
      { text: 'Water', mark: true },
      { text: ' at the ', mark: false },
      { text: 'spring', mark: true },
    ]);
    expect(highlightParts('abc', [[2, 9], [1, 1]])).toEqual([{ text: 'abc', mark: false }]);
    expect(highlightParts('', undefined)).toEqual([{ text: '', mark: false }]);
  });
});
