// The tag editor's decisions: what a typed tag becomes, and which known
// tags to offer as completion.
import type { TagCount } from '../api/types';

/** The core refuses more than this many tags, or a tag longer than this (bytes). */
export const MAX_TAGS = 64;
export const MAX_TAG_BYTES = 64;

/** A typed tag as it is kept: spaces trimmed, a leading `#` dropped; null if empty. */
export function cleanTag(raw: string): string | null {
  const t = raw.trim().replace(/^#+/, '').trim();
  return t ? t : null;
}

/** Why `tag` cannot be added to `tags`, or null if it can. */
export function tagProblem(tags: readonly string[], tag: string): string | null {
  if (new TextEncoder().encode(tag).length > MAX_TAG_BYTES) return `A tag can be at most ${MAX_TAG_BYTES} bytes long.`;
  if (tags.length >= MAX_TAGS) return `A note can have at most ${MAX_TAGS} tags.`;
  return null;
}

/** `tags` with `tag` added at the end, unless it is there already (ignoring case). */
export function addTag(tags: readonly string[], tag: string): string[] {
  const low = tag.toLocaleLowerCase();
  return tags.some((t) => t.toLocaleLowerCase() === low) ? [...tags] : [...tags, tag];
}

/**
 * Known tags to offer for what is typed: those starting with it first, then
 * those containing it, each by use; never one the note has already.
 */
export function suggestTags(known: readonly TagCount[], typed: string, have: readonly string[], limit = 8): TagCount[] {
  const q = (cleanTag(typed) ?? '').toLocaleLowerCase();
  const taken = new Set(have.map((t) => t.toLocaleLowerCase()));
  const free = known.filter((k) => !taken.has(k.tag.toLocaleLowerCase()));
  if (!q) return free.slice(0, limit);
  const starts = free.filter((k) => k.tag.toLocaleLowerCase().startsWith(q));
  const contains = free.filter((k) => !k.tag.toLocaleLowerCase().startsWith(q) && k.tag.toLocaleLowerCase().includes(q));
  return [...starts, ...contains].slice(0, limit);
}
