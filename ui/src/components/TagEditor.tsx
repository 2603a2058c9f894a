import { createResource, createSignal, For, Show } from 'solid-js';
import type { TagCount } from '../api/types';
import { addTag, cleanTag, suggestTags, tagProblem } from '../lib/tags';

export interface TagEditorProps {
  tags: readonly string[];
  /** The whole new list (saved through the note's usual update). */
  onChange: (tags: string[]) => void;
  /** The tags in use, for completion (read when the field gets focus). */
  loadKnown: () => Promise<TagCount[]>;
}

/** The open note's tags as chips, and a field that adds one with completion. */
export function TagEditor(props: TagEditorProps) {
  const [text, setText] = createSignal('');
  const [open, setOpen] = createSignal(false);
  const [active, setActive] = createSignal(0);
  const [problem, setProblem] = createSignal<string | null>(null);
  const [want, setWant] = createSignal(0);
  const [known] = createResource(want, () => props.loadKnown().catch(() => [] as TagCount[]));
  const suggestions = () => (open() ? suggestTags(known() ?? [], text(), props.tags) : []);
  let input!: HTMLInputElement;

  function add(raw: string) {
    const tag = cleanTag(raw);
    if (!tag) return;
    const p = tagProblem(props.tags, tag);
    setProblem(p);
    if (p) return;
    props.onChange(addTag(props.tags, tag));
    setText('');
    setActive(0);
  }

  function remove(tag: string) {
    props.onChange(props.tags.filter((t) => t !== tag));
    input?.focus();
  }

  function onKeyDown(e: KeyboardEvent) {
    const list = suggestions();
    if (e.key === 'ArrowDown' && list.length) {
      e.preventDefault();
      setActive((active() + 1) % list.length);
    } else if (e.key === 'ArrowUp' && list.length) {
      e.preventDefault();
      setActive((active() - 1 + list.length) % list.length);
    } else if (e.key === 'Enter' || e.key === ',' || (e.key === 'Tab' && text().trim())) {
      e.preventDefault();
      const pick = list[active()];
      add(pick && e.key !== ',' && text().trim() ? pick.tag : text());
    } else if (e.key === 'Backspace' && !text() && props.tags.length) {
      e.preventDefault();
      remove(props.tags[props.tags.length - 1]!);
    } else if (e.key === 'Escape' && open()) {
      e.stopPropagation();
      setOpen(false);
    }
  }

  return (
    <div class="tag-editor" data-testid="tag-editor" role="group" aria-label="Tags">
      <For each={props.tags}>
        {(tag) => (
          <span class="tag-chip" data-testid="tag-chip" data-tag={tag}>
            <span class="tag-hash" aria-hidden="true">#</span>
            {tag}
            <button type="button" class="tag-remove" aria-label={`Remove tag ${tag}`} data-testid="tag-remove" onClick={() => remove(tag)}>
              ×
            </button>
          </span>
        )}
      </For>
      <div class="tag-input-wrap">
        <input
          ref={input}
          class="tag-input"
          data-testid="tag-input"
          placeholder={props.tags.length ? 'Add a tag' : 'Add tags'}
          aria-label="Add a tag"
          role="combobox"
          aria-autocomplete="list"
          aria-expanded={suggestions().length > 0}
          aria-controls="tag-suggestions"
          aria-activedescendant={suggestions().length ? `tag-suggestion-${active()}` : undefined}
          value={text()}
          onFocus={() => {
            setWant(want() + 1);
            setOpen(true);
          }}
          onBlur={() => {
            // A click on a suggestion lands first (mousedown keeps focus).
            if (text().trim()) add(text());
            setOpen(false);
          }}
          onInput={(e) => {
            setText(e.currentTarget.value);
            setActive(0);
            setProblem(null);
            setOpen(true);
          }}
          onKeyDown={onKeyDown}
        />
        <Show when={suggestions().length > 0}>
          <ul class="tag-suggestions" id="tag-suggestions" role="listbox" aria-label="Tags in use" data-testid="tag-suggestions">
            <For each={suggestions()}>
              {(s, i) => (
                <li
                  id={`tag-suggestion-${i()}`}
                  role="option"
                  aria-selected={i() === active()}
                  class="tag-suggestion"
                  classList={{ active: i() === active() }}
                  data-testid="tag-suggestion"
                  onMouseDown={(e) => {
                    e.preventDefault();
                    add(s.tag);
                  }}
                >
                  <span>#{s.tag}</span>
                  <span class="muted small">{s.notes}</span>
                </li>
              )}
            </For>
          </ul>
        </Show>
      </div>
      <Show when={problem()}>
        <span class="field-error" role="alert" data-testid="tag-error">
          {problem()}
        </span>
      </Show>
    </div>
  );
}
