import { describe, expect, it } from 'vitest';
import { addTag, cleanTag, suggestTags, tagProblem } from './tags';

describe('tags', () => {
  it('clean what is typed', () => {
    expect(cleanTag('  #work ')).toBe('work');
    expect(cleanTag(' # ')).toBeNull();
  });

  it('add a tag once, ignoring case', () => {
    expect(addTag(['Work'], 'work')).toEqual(['Work']);
    expect(addTag(['Work'], 'ideas')).toEqual(['Work', 'ideas']);
  });

  it('refuse what the core would', () => {
    expect(tagProblem([], 'x'.repeat(65))).toMatch(/64 bytes/);
    expect(tagProblem(Array.from({ length: 64 }, (_, i) => `t${i}`), 'one more')).toMatch(/64 tags/);
    expect(tagProblem([], 'fine')).toBeNull();
  });

  it('suggest known tags: prefix first, then containing, never one the note has', () => {
    const known = [
      { tag: 'work', notes: 9 },
      { tag: 'homework', notes: 5 },
      { tag: 'worldbuilding', notes: 2 },
      { tag: 'ideas', notes: 1 },
    ];
    expect(suggestTags(known, 'wor', []).map((t) => t.tag)).toEqual(['work', 'worldbuilding', 'homework']);
    expect(suggestTags(known, '', ['work']).map((t) => t.tag)).toEqual(['homework', 'worldbuilding', 'ideas']);
    expect(suggestTags(known, '#ID', []).map((t) => t.tag)).toEqual(['ideas']);
  });
});
