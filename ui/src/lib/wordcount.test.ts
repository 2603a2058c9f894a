import { describe, expect, it } from 'vitest';
import { countLabel, countWords } from './wordcount';

describe('countWords', () => {
  it('counts words and characters', () => {
    expect(countWords('')).toEqual({ words: 0, characters: 0 });
    expect(countWords('Hello, world! It’s 2026.')).toEqual({ words: 4, characters: 24 });
    expect(countWords('# Title\n\n- [ ] buy milk')).toMatchObject({ words: 3 });
  });

  it('counts a character as people see it', () => {
    expect(countWords('café 👍🏽').characters).toBe(6);
  });

  it('says it in words', () => {
    expect(countLabel({ words: 1, characters: 1 })).toBe('1 word · 1 character');
    expect(countLabel({ words: 1200, characters: 6543 })).toBe('1,200 words · 6,543 characters');
  });
});
