// The Trash: the notes deleted on any device, when each goes for good,
// and for each Restore or Delete for good; Empty trash asks first.
import { createResource, createSignal, For, Show } from 'solid-js';
import type { HistoryApi, TrashedNote } from '../api/history';
import type { Note } from '../api/types';
import { fullTime, relativeTime } from '../lib/time';

export interface TrashViewProps {
  api: HistoryApi;
  now: number;
  /** A note came back from the trash. */
  onRestored: (note: Note) => void;
  /** Notes were deleted for good (how many). */
  onDeleted?: (count: number) => void;
  onError: (e: unknown) => void;
}

export function TrashView(props: TrashViewProps) {
  const [items, { refetch }] = createResource(() => props.api.trashList().catch((e) => (props.onError(e), [] as TrashedNote[])));
  const [confirmEmpty, setConfirmEmpty] = createSignal(false);
  const [confirmOne, setConfirmOne] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal(false);

  async function act(f: () => Promise<void>) {
    setBusy(true);
    try {
      await f();
    } catch (e) {
      props.onError(e);
    } finally {
      setBusy(false);
      setConfirmOne(null);
      setConfirmEmpty(false);
      await refetch();
    }
  }

  const when = (ms: number) => relativeTime(ms, props.now);
  // `now` ticks once a minute, so it can lag a note deleted since: count
  // from the deletion then, or a note deleted just now "goes in 31 days".
  const goes = (purgeAt: number, trashedAt: number) => {
    const from = Math.max(props.now, trashedAt);
    const days = Math.max(0, Math.ceil((purgeAt - from) / 86_400_000));
    return days <= 1 ? 'goes for good within a day' : `goes for good in ${days} days`;
  };

  return (
    <div class="trash" data-testid="trash-view">
      <Show
        when={(items() ?? []).length > 0}
        fallback={
          <p class="muted" data-testid="trash-empty">
            {items.loading ? 'Opening…' : 'The trash is empty.'}
          </p>
        }
      >
        <ul class="trash-list" aria-label="Notes in the trash">
          <For each={items()}>
            {(t) => (
              <li class="trash-item" data-testid="trash-item" data-id={t.id}>
                <div class="trash-text">
                  <div class="trash-title">{t.title || 'Untitled'}</div>
                  <div class="muted small" title={`Deleted ${fullTime(t.trashed_at)}; deleted for good ${fullTime(t.purge_at)}`}>
                    Deleted {when(t.trashed_at)} · {goes(t.purge_at, t.trashed_at)}
                  </div>
                </div>
                <Show
                  when={confirmOne() === t.id}
                  fallback={
                    <div class="row">
                      <button
                        type="button"
                        class="btn btn-sm"
                        data-testid="trash-restore"
                        disabled={busy()}
                        onClick={() =>
                          void act(async () => {
                            props.onRestored(await props.api.untrashNote(t.id));
                          })
                        }
                      >
                        Restore
                      </button>
                      <button type="button" class="btn btn-sm btn-danger" data-testid="trash-delete" disabled={busy()} onClick={() => setConfirmOne(t.id)}>
                        Delete for good…
                      </button>
                    </div>
                  }
                >
                  <div class="row">
                    <span class="small">Delete for good on all devices?</span>
                    <button type="button" class="btn btn-sm" onClick={() => setConfirmOne(null)}>
                      Cancel
                    </button>
                    <button
                      type="button"
                      class="btn btn-sm btn-danger"
                      data-testid="trash-delete-confirm"
                      disabled={busy()}
                      onClick={() =>
                        void act(async () => {
                          await props.api.deleteForGood(t.id);
                          props.onDeleted?.(1);
                        })
                      }
                    >
                      Delete for good
                    </button>
                  </div>
                </Show>
              </li>
            )}
          </For>
        </ul>
        <footer class="trash-foot">
          <Show
            when={confirmEmpty()}
            fallback={
              <button type="button" class="btn btn-danger" data-testid="trash-empty-button" disabled={busy()} onClick={() => setConfirmEmpty(true)}>
                Empty trash…
              </button>
            }
          >
            <span>
              Delete all {(items() ?? []).length} notes in the trash for good, on all your devices? This cannot be undone.
            </span>
            <div class="row">
              <button type="button" class="btn" onClick={() => setConfirmEmpty(false)}>
                Cancel
              </button>
              <button
                type="button"
                class="btn btn-danger"
                data-testid="trash-empty-confirm"
                disabled={busy()}
                onClick={() =>
                  void act(async () => {
                    props.onDeleted?.(await props.api.emptyTrash());
                  })
                }
              >
                Empty trash
              </button>
            </div>
          </Show>
        </footer>
      </Show>
    </div>
  );
}
