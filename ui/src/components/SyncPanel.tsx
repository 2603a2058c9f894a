// The Sync panel: how sync has been going on this device (the engine's
// pass history and what it says), the changes the server refused with
// Retry and Discard (which asks first), and the recent passes. What
// `outpost status --history` and `outpost outbox list` show; never a
// note's content or title.
import { createMemo, createSignal, For, Show } from 'solid-js';
import type { OutboxRow, PassRecord } from '../api/types';
import {
  attemptsText,
  discardWarning,
  entryState,
  formatAge,
  formatBytes,
  formatDuration,
  insightsView,
  OUTCOME_LABELS,
  passSummary,
  shortId,
  TRIGGER_LABELS,
} from '../lib/monitor';
import { fullTime, relativeTime } from '../lib/time';
import { useApp } from '../state/context';
import { Dialog } from './Dialog';
import { IconWarn } from './icons';

/** Passes shown at first, and how many more each "Show more" adds. */
const PAGE = 25;

export function SyncPanel() {
  const { monitor } = useApp();
  return (
    <Dialog title="Sync activity" testid="sync-panel" onClose={() => monitor.setOpen(false)} wide>
      <Show when={monitor.loadError()}>
        <div class="callout warn" role="alert" data-testid="sync-panel-error">
          <p>The sync history could not be read: {monitor.loadError()}</p>
          <button type="button" class="btn btn-sm" onClick={() => void monitor.refresh()}>
            Try again
          </button>
        </div>
      </Show>
      <Show
        when={monitor.history()}
        fallback={
          <p class="muted" aria-busy="true">
            Reading the sync history…
          </p>
        }
      >
        <InsightsSection />
        <FailedSection />
        <PassesSection />
      </Show>
    </Dialog>
  );
}

function InsightsSection() {
  const { monitor } = useApp();
  const view = createMemo(() => {
    const h = monitor.history()!;
    return insightsView(h.insights, h.now_ms);
  });
  return (
    <section class="settings-section" aria-labelledby="sp-insights">
      <h3 id="sp-insights">How sync has been going</h3>
      <Show when={view().staleWarning}>
        <div class="callout warn stale" role="alert" data-testid="sync-stale-warning">
          <IconWarn />
          <p>{view().staleWarning}</p>
        </div>
      </Show>
      <dl class="insights" data-testid="sync-insights">
        <div class="insight">
          <dt>Success rate</dt>
          <dd data-testid="insight-success">{view().successRate ?? '—'}</dd>
          <dd class="muted small">{view().successDetail}</dd>
        </div>
        <div class="insight">
          <dt>Pass duration</dt>
          <dd data-testid="insight-median">{view().median ?? '—'}</dd>
          <dd class="muted small" data-testid="insight-p95">
            {view().p95 ? `median; ${view().p95} at p95` : 'No pass ran yet'}
          </dd>
        </div>
        <div class="insight">
          <dt>Data per day</dt>
          <dd data-testid="insight-bytes">{view().perDay}</dd>
          <dd class="muted small">{view().weekTotal} this week</dd>
        </div>
        <div class="insight">
          <dt>Not on the server yet</dt>
          <dd data-testid="insight-pending">
            {monitor.pending().length + monitor.failed().length === 0
              ? 'Nothing'
              : `${monitor.pending().length + monitor.failed().length} ${monitor.pending().length + monitor.failed().length === 1 ? 'change' : 'changes'}`}
          </dd>
          <dd class="muted small">
            <Show when={monitor.history()!.insights.oldest_unsent} fallback="All on the server">
              {(u) => `oldest ${formatAge(monitor.history()!.now_ms - u().created_at)}`}
            </Show>
          </dd>
        </div>
      </dl>
      <div class="bytes-week" role="img" aria-label={bytesLabel(view().days)} data-testid="sync-bytes-week">
        <For each={view().days}>
          {(d) => (
            <div class="bytes-day" title={`${fullDay(d.day_start_ms)}: ${formatBytes(d.sent)} sent, ${formatBytes(d.received)} received`}>
              <span class="bytes-bar" style={{ height: `${Math.max(d.total > 0 ? 6 : 2, Math.round(d.share * 100))}%` }} />
              <span class="bytes-label">{d.label}</span>
            </div>
          )}
        </For>
      </div>
      <p class="muted small" data-testid="sync-unsent">
        {view().unsent}
      </p>
    </section>
  );
}

const fullDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function bytesLabel(days: { day_start_ms: number; total: number }[]): string {
  return `Bytes per day, last ${days.length} days: ${days.map((d) => `${fullDay(d.day_start_ms)} ${formatBytes(d.total)}`).join(', ')}`;
}

function FailedSection() {
  const { monitor, ui } = useApp();
  return (
    <section class="settings-section" aria-labelledby="sp-failed">
      <div class="section-head">
        <h3 id="sp-failed">Changes the server refused</h3>
        <Show when={monitor.failed().length > 1}>
          <button
            type="button"
            class="btn btn-xs"
            data-testid="outbox-retry-all"
            disabled={monitor.busy() !== null}
            onClick={() => void monitor.retry(null)}
          >
            Retry all
          </button>
        </Show>
      </div>
      <Show
        when={monitor.failed().length > 0}
        fallback={
          <p class="muted" data-testid="outbox-no-failed">
            None: the server took every change it was sent.
          </p>
        }
      >
        <ul class="outbox-list" data-testid="outbox-failed">
          <For each={monitor.failed()}>{(e) => <FailedEntry entry={e} now={ui.now()} />}</For>
        </ul>
      </Show>
      <Show when={(monitor.outbox()?.discarded.length ?? 0) > 0}>
        <details class="discarded" data-testid="outbox-discarded">
          <summary class="small">
            {monitor.outbox()!.discarded.length} discarded{' '}
            {monitor.outbox()!.discarded.length === 1 ? 'change' : 'changes'} (kept sealed on this device)
          </summary>
          <ul class="plain small">
            <For each={monitor.outbox()!.discarded}>
              {(d) => (
                <li>
                  Entry {d.seq} of note <span class="mono">{shortId(d.note_id)}</span>, was {d.state}, discarded{' '}
                  <span title={fullTime(d.discarded_at)}>{relativeTime(d.discarded_at, ui.now())}</span>
                </li>
              )}
            </For>
          </ul>
        </details>
      </Show>
    </section>
  );
}

function FailedEntry(props: { entry: OutboxRow; now: number }) {
  const { monitor, editor } = useApp();
  const e = () => props.entry;
  const asking = () => monitor.confirming() === e().seq;
  const busy = () => monitor.busy() === e().seq || monitor.busy() === 'all';
  return (
    <li class="outbox-entry" data-testid="outbox-entry" data-seq={e().seq}>
      <div class="outbox-line">
        <span class="badge badge-pill badge-failed">
          <span class="badge-dot" />
          {entryState(e(), props.now)}
        </span>
        <span class="small">
          {e().deleted ? 'Deletion' : 'Change'} {e().seq} of note{' '}
          <span class="mono" title={e().note_id}>
            {shortId(e().note_id)}
          </span>
          , made <span title={fullTime(e().created_at)}>{relativeTime(e().created_at, props.now)}</span>,{' '}
          {attemptsText(e().attempts)}
        </span>
      </div>
      <p class="outbox-error small" data-testid="outbox-last-error">
        {e().last_error ?? 'No error was recorded.'}
      </p>
      <Show
        when={asking()}
        fallback={
          <div class="row">
            <button
              type="button"
              class="btn btn-sm"
              data-testid="outbox-retry"
              disabled={busy()}
              aria-label={`Retry change ${e().seq}`}
              onClick={() => void monitor.retry(e().seq)}
            >
              Retry
            </button>
            <button
              type="button"
              class="btn btn-sm"
              data-testid="outbox-discard"
              disabled={busy()}
              aria-label={`Discard change ${e().seq}…`}
              onClick={() => monitor.askDiscard(e().seq)}
            >
              Discard…
            </button>
            <Show when={!e().deleted}>
              <button
                type="button"
                class="btn btn-sm btn-ghost"
                data-testid="outbox-open-note"
                onClick={() => {
                  monitor.setOpen(false);
                  void editor.open(e().note_id);
                }}
              >
                Open the note
              </button>
            </Show>
          </div>
        }
      >
        <div class="callout warn" role="alertdialog" aria-labelledby={`discard-${e().seq}`} data-testid="outbox-discard-warning">
          <p id={`discard-${e().seq}`}>
            <strong>Discard change {e().seq}?</strong> {discardWarning(e())}
          </p>
          <div class="row">
            <button type="button" class="btn btn-sm" data-testid="outbox-discard-cancel" autofocus onClick={() => monitor.cancelDiscard()}>
              Keep it
            </button>
            <button
              type="button"
              class="btn btn-sm btn-danger"
              data-testid="outbox-discard-confirm"
              onClick={() => void monitor.confirmDiscard(e().seq)}
            >
              Discard the change
            </button>
          </div>
        </div>
      </Show>
    </li>
  );
}

function PassesSection() {
  const { monitor, ui } = useApp();
  const [shown, setShown] = createSignal(PAGE);
  const passes = () => monitor.history()!.passes;
  return (
    <section class="settings-section" aria-labelledby="sp-passes">
      <h3 id="sp-passes">Recent passes</h3>
      <Show
        when={passes().length > 0}
        fallback={
          <p class="muted" data-testid="passes-empty">
            No sync pass recorded yet.
          </p>
        }
      >
        <div class="passes-scroll">
          <table class="passes" data-testid="sync-passes">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Trigger</th>
                <th scope="col">Outcome</th>
                <th scope="col" class="num">
                  Duration
                </th>
                <th scope="col" class="num">
                  <abbr title="Changes pushed / pulled">↑ / ↓</abbr>
                </th>
                <th scope="col" class="num">
                  <abbr title="Bytes sent / received">Bytes</abbr>
                </th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              <For each={passes().slice(0, shown())}>{(p) => <PassRow pass={p} now={ui.now()} />}</For>
            </tbody>
          </table>
        </div>
        <Show when={passes().length > shown()}>
          <button type="button" class="btn btn-sm more" data-testid="passes-more" onClick={() => setShown((n) => n + PAGE * 2)}>
            Show more ({passes().length - shown()} older)
          </button>
        </Show>
      </Show>
    </section>
  );
}

function PassRow(props: { pass: PassRecord; now: number }) {
  const p = () => props.pass;
  return (
    <tr data-testid="sync-pass" data-outcome={p().outcome}>
      <td title={fullTime(p().started_at)}>{relativeTime(p().started_at, props.now)}</td>
      <td>{TRIGGER_LABELS[p().trigger] ?? p().trigger}</td>
      <td>
        <span class={`outcome outcome-${p().outcome}`}>{OUTCOME_LABELS[p().outcome] ?? p().outcome}</span>
      </td>
      <td class="num">{p().outcome === 'deferred' ? '—' : formatDuration(p().duration_ms)}</td>
      <td class="num">{p().outcome === 'ok' ? `${p().pushed} / ${p().pulled}` : '—'}</td>
      <td class="num" title={`${p().bytes_sent} B sent, ${p().bytes_received} B received`}>
        {p().bytes_sent + p().bytes_received === 0 ? '—' : `${formatBytes(p().bytes_sent)} / ${formatBytes(p().bytes_received)}`}
      </td>
      <td classList={{ mono: p().outcome === 'failed', muted: p().outcome !== 'failed' }}>{p().outcome === 'ok' ? '' : passSummary(p())}</td>
    </tr>
  );
}
