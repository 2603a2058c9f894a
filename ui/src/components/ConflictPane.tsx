import { createMemo, createSignal, For, Show, Suspense } from 'solid-js';
import type { VersionView } from '../api/types';
import { conflictModel, diffLines, hasConflictMarkers, resolutionFor, type ConflictAction } from '../lib/conflict';
import { fullTime, relativeTime } from '../lib/time';
import type { ConflictScreen } from '../state';
import { useApp } from '../state/context';
import { Editor, type EditorHandle } from './editor/LazyEditor';
import { IconClose } from './icons';

export function ConflictPane(props: { screen: ConflictScreen }) {
  const { ui, conflicts } = useApp();
  const c = () => props.screen.conflict;
  const model = createMemo(() => conflictModel(c()));
  const [editing, setEditing] = createSignal(false);
  const [busy, setBusy] = createSignal(false);
  const [markerWarning, setMarkerWarning] = createSignal(false);
  let cm: EditorHandle | undefined;

  async function act(a: ConflictAction) {
    if (a.id === 'edit') {
      setEditing(true);
      setMarkerWarning(false);
      queueMicrotask(() => cm?.focus());
      return;
    }
    setBusy(true);
    await conflicts.resolve(c().id, resolutionFor(a.id, props.screen.note.body));
    setBusy(false);
  }

  async function saveEdited() {
    const body = cm?.text() ?? props.screen.note.body;
    if (hasConflictMarkers(body) && !markerWarning()) {
      setMarkerWarning(true);
      return;
    }
    setBusy(true);
    await conflicts.resolve(c().id, resolutionFor('edit', props.screen.note.body, body));
    setBusy(false);
  }

  return (
    <section class="conflict-pane" aria-labelledby="conflict-title" data-testid="conflict-view" data-kind={c().kind}>
      <header class="conflict-head">
        <div>
          <div class="conflict-kicker">
            <span class={`kind kind-${c().kind}`} data-testid="conflict-kind">
              {model().kindLabel}
            </span>
            <span class="muted" title={fullTime(c().opened_at)}>
              found {relativeTime(c().opened_at, ui.now())}
            </span>
          </div>
          <h2 id="conflict-title">{props.screen.note.title.trim() || c().mine.title.trim() || 'Untitled'}</h2>
          <p class="conflict-explain">{model().explanation}</p>
          <p class="reassure" data-testid="conflict-reassurance">
            {model().reassurance}
          </p>
        </div>
        <button type="button" class="icon-btn" aria-label="Close the conflict view" onClick={() => conflicts.close()}>
          <IconClose />
        </button>
      </header>

      <Show
        when={editing()}
        fallback={
          <>
            <div class="conflict-actions" role="group" aria-label="Resolve">
              <For each={model().actions}>
                {(a) => (
                  <button
                    type="button"
                    class="btn"
                    classList={{ 'btn-primary': a.primary }}
                    data-testid={a.testid}
                    title={a.hint}
                    disabled={busy()}
                    onClick={() => void act(a)}
                  >
                    {a.label}
                  </button>
                )}
              </For>
            </div>
            <div class="conflict-columns">
              <Column
                heading="Base"
                sub="Where both started"
                body={c().base_body}
                base={null}
                testid="conflict-base"
              />
              <Column
                heading="Mine"
                sub="This device"
                version={c().mine}
                body={c().mine.body}
                base={c().base_body}
                testid="conflict-mine"
              />
              <Column
                heading="Theirs"
                sub="The other device"
                version={c().theirs}
                body={c().theirs.body}
                base={c().base_body}
                testid="conflict-theirs"
              />
            </div>
          </>
        }
      >
        <div class="conflict-edit" data-testid="conflict-editor">
          <p class="muted">
            The text below is the note as it is now, with both versions between <code>&lt;&lt;&lt;&lt;&lt;&lt;&lt; ours</code>,{' '}
            <code>=======</code> and <code>&gt;&gt;&gt;&gt;&gt;&gt;&gt; theirs</code> markers. Keep what you want and save.
          </p>
          <div class="conflict-edit-box">
            <Suspense fallback={<div class="cm-host" aria-busy="true" />}>
              <Editor
                docKey={`conflict-${c().id}`}
                doc={props.screen.note.body}
                label="Merged text"
                testid="conflict-merge-editor"
                markers
                ref={(h) => {
                  cm = h;
                  // The editor's chunk may arrive after "Edit" was pressed.
                  h.focus();
                }}
              />
            </Suspense>
          </div>
          <Show when={markerWarning()}>
            <p class="warn-text" role="alert" data-testid="conflict-marker-warning">
              The text still has conflict markers. Save anyway, or remove them first.
            </p>
          </Show>
          <div class="conflict-actions">
            <button type="button" class="btn" onClick={() => setEditing(false)} disabled={busy()}>
              Back
            </button>
            <button
              type="button"
              class="btn btn-primary"
              data-testid="conflict-save-merged"
              disabled={busy()}
              onClick={() => void saveEdited()}
            >
              {markerWarning() ? 'Save anyway' : 'Save merged text'}
            </button>
          </div>
        </div>
      </Show>
    </section>
  );
}

function Column(props: {
  heading: string;
  sub: string;
  body: string | null;
  base: string | null;
  version?: VersionView;
  testid: string;
}) {
  const lines = createMemo(() => (props.body === null ? [] : diffLines(props.base, props.body)));
  const changed = createMemo(() => lines().filter((l) => l.mark === 'changed').length);
  return (
    <div class="conflict-col" data-testid={props.testid}>
      <div class="conflict-col-head">
        <strong>{props.heading}</strong>
        <span class="muted">{props.sub}</span>
        <Show when={props.version && props.base !== null && changed() > 0}>
          <span class="changed-count">
            {changed()} changed {changed() === 1 ? 'line' : 'lines'}
          </span>
        </Show>
      </div>
      <Show when={props.version?.title}>
        <div class="conflict-col-title">{props.version!.title}</div>
      </Show>
      <Show
        when={!props.version?.deleted}
        fallback={<div class="conflict-deleted">Deleted on {props.heading === 'Mine' ? 'this device' : 'the other device'}</div>}
      >
        <Show when={props.body !== null} fallback={<div class="conflict-none">This device has no common version.</div>}>
          <pre class="conflict-text" data-testid={`${props.testid}-body`}>
            <For each={lines()}>
              {(l) => <span class={`ln ln-${l.mark}`}>{l.text === '' ? '\u200b' : l.text}{'\n'}</span>}
            </For>
          </pre>
        </Show>
      </Show>
    </div>
  );
}
