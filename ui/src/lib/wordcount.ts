// The word count in the editor's footer.

export interface Counts {
  words: number;
  /** Characters as people count them (user-perceived), spaces included. */
  characters: number;
}

type Segmenter = { segment(s: string): Iterable<{ isWordLike?: boolean }> };
type SegmenterCtor = new (locale?: string, o?: { granularity: 'word' | 'grapheme' }) => Segmenter;

const Seg = (Intl as unknown as { Segmenter?: SegmenterCtor }).Segmenter;
const words = Seg ? new Seg(undefined, { granularity: 'word' }) : null;
const graphemes = Seg ? new Seg(undefined, { granularity: 'grapheme' }) : null;

/** Words by Unicode word boundaries (so Chinese and Japanese count too), and characters. */
export function countWords(text: string): Counts {
  if (words && graphemes) {
    let w = 0;
    for (const s of words.segment(text)) if (s.isWordLike) w++;
    let c = 0;
    for (const _ of graphemes.segment(text)) c++;
    return { words: w, characters: c };
  }
  return { words: text.match(/[\p{L}\p{N}][\p{L}\p{N}\p{M}'’_-]*/gu)?.length ?? 0, characters: [...text].length };
}

export function countLabel(c: Counts): string {
  const n = (x: number) => x.toLocaleString('en');
  return `${n(c.words)} ${c.words === 1 ? 'word' : 'words'} · ${n(c.characters)} ${c.characters === 1 ? 'character' : 'characters'}`;
}
