// The open note's history: a timeline of its versions (when, which device,
// why, size), the chosen one's text as a line diff against the current
// text, and Restore (a new version, synced like an edit). A version a
// last-writer-wins merge did not keep offers "Bring back", the same
// restore: the conflict's losing text comes back as the newest version.
import { diffLines } from 'diff';
import { createEffect, createResource, createSignal, For, Show } from 'solid-js';
import type { HistoryApi, NoteVersion, VersionInfo } from '../api/history';
import { whyLabel } from '../api/history';
import type { Note } from '../api/types';
import { fullTime, relativeTime } from '../lib/time';

export interface HistoryPanelProps {
  api: HistoryApi;
  noteId: string;
  /** The note's text now (what the diff compares against). */
  currentBody: string;
  now: number;
  /** A version was restored: the note as it is now. */
  onRestored: (note: Note) => void;
  onError: (e: unknown) => void;
}

/** "1.2 KB", "340 B". */
export function byteSize(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)} KB`;
  return `${(n / 1_000_000).toFixed(1)} MB`;
}

/** The diff of `from` (the version) to `to` (the current text), by line. */
export function lineDiff(from: string, to: string): { kind: 'same' | 'removed' | 'added'; text: string }[] {
  const withNl = (s: string) => (s === '' || s.endsWith('\n') ? s : `${s}\n`);
  return diffLines(withNl(from), withNl(to)).flatMap((part) =>
    part.value
      .replace(/\n$/, '')
      .split('\n')
      .map((text) => ({ kind: part.added ? ('added' as const) : part.removed ? ('removed' as const) : ('same' as const), text })),
  );
}

export function HistoryPanel(props: HistoryPanelProps) {
  const [versions, { refetch }] = createResource(
    () => props.noteId,
    (id) => props.api.noteVersions(id).catch((e) => (props.onError(e), [] as VersionInfo[])),
  );
  const [chosen, setChosen] = createSignal<string | null>(null);
  const [restoring, setRestoring] = createSignal(false);
  // The newest version that is not the current one, chosen at first.
  createEffect(() => {
    const vs = versions();
    if (vs && chosen() === null) setChosen((vs.find((v) => !v.current) ?? vs[0])?.version ?? null);
  });
  const [version] = createResource(
    () => chosen(),
    (v): Promise<NoteVersion | null> => props.api.noteVersion(props.noteId, v).catch((e) => (props.onError(e), null)),
  );

  async function restore(v: NoteVersion) {
    setRestoring(true);
    try {
      const note = await props.api.restoreVersion(props.noteId, v.version);
      props.onRestored(note);
      setChosen(null);
      await refetch();
    } catch (e) {
      props.onError(e);
    } finally {
      setRestoring(false);
    }
  }

  return (
    <div class="history" data-testid="history-panel">
      <ol class="history-list" aria-label="Versions" data-testid="history-list">
        <Show when={versions() && versions()!.length === 0}>
          <li class="muted">No versions yet.</li>
        </Show>
        <For each={versions() ?? []}>
          {(v) => (
            <li>
              <button
                type="button"
                class="history-item"
                classList={{ selected: chosen() === v.version, loser: v.why === 'lww_loser' }}
                aria-pressed={chosen() === v.version}
                data-testid="history-item"
                data-version={v.version}
                data-why={v.why}
                onClick={() => setChosen(v.version)}
              >
                <span class="history-when" title={fullTime(v.at)}>
                  {relativeTime(v.at, props.now)}
                  <Show when={v.current}>
                    <span class="history-current"> · current</span>
                  </Show>
                </span>
                <span class="history-why">{whyLabel(v.why)}</span>
                <span class="history-meta" title={`device ${v.device}`}>
                  {v.device.slice(-6)} · {byteSize(v.size)}
                </span>
              </button>
            </li>
          )}
        </For>
      </ol>
      <section class="history-view" aria-live="polite">
        <Show when={version()} keyed fallback={<p class="muted">{chosen() ? 'Opening…' : 'Choose a version.'}</p>}>
          {(v) => (
            <>
              <header class="history-view-head">
                <div>
                  <div class="history-view-title" data-testid="history-title">
                    {v.title || 'Untitled'}
                  </div>
                  <div class="muted small">
                    {fullTime(v.at)} · {whyLabel(v.why)}
                  </div>
                </div>
                <Show when={!v.current} fallback={<span class="muted small">This is the current text.</span>}>
                  <button
                    type="button"
                    class="btn btn-primary btn-sm"
                    data-testid="history-restore"
                    disabled={restoring()}
                    onClick={() => void restore(v)}
                  >
                    {v.why === 'lww_loser' ? 'Bring back' : 'Restore this version'}
                  </button>
                </Show>
              </header>
              <p class="muted small history-legend">
                Compared with the current text: <span class="diff-removed">only in this version</span>{' '}
                <span class="diff-added">only in the current text</span>
              </p>
              <pre class="history-diff" data-testid="history-diff">
                <For each={lineDiff(v.body, props.currentBody)}>
                  {(l) => (
                    <div class={`diff-line diff-${l.kind}`} data-kind={l.kind}>
                      <span class="diff-sign" aria-hidden="true">
                        {l.kind === 'added' ? '+' : l.kind === 'removed' ? '−' : ' '}
                      </span>
                      {l.text || ' '}
                    </div>
                  )}
                </For>
              </pre>
            </>
          )}
        </Show>
      </section>
    </div>
  );
}
