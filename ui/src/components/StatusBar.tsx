import { createMemo, onCleanup, Show } from 'solid-js';
import { statusView } from '../lib/status';
import { fullTime } from '../lib/time';
import type { AppState } from '../state';
import { IconHelp, IconSync, IconWarn, IconWifi } from './icons';
import { NetworkControls } from './NetworkControls';

export function StatusBar(props: { app: AppState; syncKeys: string }) {
  const app = props.app;
  const view = createMemo(() => {
    const s = app.status();
    return s ? statusView(s, app.account(), app.now()) : null;
  });

  let popover: HTMLDivElement | undefined;
  let netButton: HTMLButtonElement | undefined;
  const onDown = (e: MouseEvent) => {
    const t = e.target as Node;
    if (app.networkOpen() && popover && !popover.contains(t) && netButton && !netButton.contains(t)) app.setNetworkOpen(false);
  };
  document.addEventListener('mousedown', onDown);
  onCleanup(() => document.removeEventListener('mousedown', onDown));

  return (
    <footer class="statusbar" data-testid="status-bar" aria-label="Sync status">
      <div class="sr-only" aria-live="polite" data-testid="status-announce">
        {view()?.announce ?? ''}
      </div>
      <Show when={view()} fallback={<span class="status-item muted">Starting…</span>}>
        {(v) => (
          <>
            <span class={`status-item conn tone-${v().tone}`} data-testid="status-connectivity" data-tone={v().tone}>
              <span class="dot" aria-hidden="true" />
              {v().label}
              <Show when={v().progress !== null}>
                <span
                  class="progress"
                  role="progressbar"
                  aria-label="Sync progress"
                  aria-valuemin="0"
                  aria-valuemax="100"
                  aria-valuenow={Math.round((v().progress ?? 0) * 100)}
                  data-testid="status-progress"
                >
                  <span class="progress-fill" style={{ width: `${Math.round((v().progress ?? 0) * 100)}%` }} />
                </span>
              </Show>
            </span>
            <span class="status-item" data-testid="status-pending" data-count={app.status()?.pending ?? 0}>
              {v().pending ?? 'Nothing pending'}
            </span>
            <Show when={v().failed}>
              <span class="status-item tone-error-text" data-testid="status-failed" data-count={app.status()?.failed ?? 0}>
                {v().failed}
              </span>
            </Show>
            <Show when={v().conflicts}>
              <button
                type="button"
                class="status-link warn"
                data-testid="status-conflicts"
                onClick={() => {
                  const first = app.conflicts().find((c) => c.resolved_at === null);
                  if (first) void app.openConflict(first);
                }}
              >
                {v().conflicts}
              </button>
            </Show>
            <Show when={v().lastSynced}>
              <span
                class="status-item muted"
                data-testid="status-last-synced"
                title={app.status()?.last_success_ms ? fullTime(app.status()!.last_success_ms!) : ''}
              >
                {v().lastSynced}
              </span>
            </Show>
            <Show when={app.account() && !app.account()!.logged_in}>
              <button type="button" class="status-link" data-testid="status-setup-sync" onClick={() => app.setSettingsOpen(true)}>
                Set up sync
              </button>
            </Show>
            <span class="status-spacer" />
            <Show when={v().error}>
              <span class="status-item status-error" classList={{ held: v().showApprove }} data-testid="status-error" data-code={v().errorCode ?? ''} title={v().error ?? ''}>
                <IconWarn />
                <span class="status-error-text">{v().error}</span>
              </span>
            </Show>
            <Show when={v().showRetry}>
              <button type="button" class="btn btn-xs" data-testid="status-retry" onClick={() => void app.syncNow()}>
                Retry
              </button>
            </Show>
            <Show when={v().showApprove}>
              <button
                type="button"
                class="btn btn-xs btn-danger"
                data-testid="status-approve"
                title="Let this sync delete those notes on this device"
                onClick={() => void app.approveMassDelete()}>
                Approve
              </button>
            </Show>
          </>
        )}
      </Show>
      <Show when={app.account()?.logged_in}>
        <button
          type="button"
          class="icon-btn sm"
          aria-label="Sync now"
          title={`Sync now (${props.syncKeys})`}
          data-testid="status-sync-now"
          onClick={() => void app.syncNow()}
        >
          <IconSync />
        </button>
      </Show>
      <div class="net-anchor">
        <button
          ref={netButton}
          type="button"
          class="icon-btn sm"
          classList={{ on: (app.status()?.net_mode.mode ?? 'online') !== 'online' }}
          aria-label="Network (testers)"
          title="Network: work offline, simulate a bad network"
          aria-expanded={app.networkOpen()}
          aria-haspopup="dialog"
          data-testid="network-button"
          onClick={() => app.setNetworkOpen(!app.networkOpen())}
        >
          <IconWifi />
        </button>
        <Show when={app.networkOpen()}>
          <div ref={popover} class="popover" role="dialog" aria-label="Network" data-testid="network-popover">
            <NetworkControls app={app} idPrefix="pop" />
          </div>
        </Show>
      </div>
      <button
        type="button"
        class="icon-btn sm"
        aria-label="Keyboard shortcuts"
        title="Keyboard shortcuts (F1)"
        data-testid="help-button"
        onClick={() => app.setHelpOpen(true)}
      >
        <IconHelp />
      </button>
    </footer>
  );
}
