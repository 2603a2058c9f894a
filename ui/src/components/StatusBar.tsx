import { createMemo, onCleanup, Show } from 'solid-js';
import { statusView } from '../lib/status';
import { fullTime } from '../lib/time';
import { useApp } from '../state/context';
import { IconActivity, IconHelp, IconSync, IconWarn, IconWifi } from './icons';
import { NetworkControls } from './NetworkControls';
import { FileStatus } from './FileStatus';

export function StatusBar(props: { syncKeys: string }) {
  const { ui, sync, account, conflicts, monitor } = useApp();
  const view = createMemo(() => {
    const s = sync.status();
    return s ? statusView(s, account.info(), ui.now()) : null;
  });

  let popover: HTMLDivElement | undefined;
  let netButton: HTMLButtonElement | undefined;
  const onDown = (e: MouseEvent) => {
    const t = e.target as Node;
    if (ui.networkOpen() && popover && !popover.contains(t) && netButton && !netButton.contains(t)) ui.setNetworkOpen(false);
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
            <span class="status-item" data-testid="status-pending" data-count={sync.status()?.pending ?? 0}>
              {v().pending ?? 'Nothing pending'}
            </span>
            <FileStatus />
            <Show when={v().failed}>
              <button
                type="button"
                class="status-link tone-error-text"
                data-testid="status-failed"
                data-count={sync.status()?.failed ?? 0}
                title="See the refused changes, retry or discard them"
                onClick={() => monitor.setOpen(true)}
              >
                {v().failed}
              </button>
            </Show>
            <Show when={v().conflicts}>
              <button
                type="button"
                class="status-link warn"
                data-testid="status-conflicts"
                onClick={() => {
                  const first = conflicts.list().find((c) => c.resolved_at === null);
                  if (first) void conflicts.open(first);
                }}
              >
                {v().conflicts}
              </button>
            </Show>
            {/* While the sync policy holds sync back, why it waits says more than when it last ran. */}
            <Show
              when={v().deferred}
              fallback={
                <Show when={v().lastSynced}>
                  <span
                    class="status-item muted"
                    data-testid="status-last-synced"
                    title={sync.status()?.last_success_ms ? fullTime(sync.status()!.last_success_ms!) : ''}
                  >
                    {v().lastSynced}
                  </span>
                </Show>
              }
            >
              <span class="status-item muted deferred" data-testid="status-deferred" title={v().deferredTitle ?? ''}>
                {v().deferred}
              </span>
            </Show>
            <Show when={account.info() && !account.info()!.logged_in}>
              <button type="button" class="status-link" data-testid="status-setup-sync" onClick={() => ui.setSettingsOpen(true)}>
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
              <button type="button" class="btn btn-xs" data-testid="status-retry" onClick={() => void sync.syncNow()}>
                Retry
              </button>
            </Show>
            <Show when={v().showApprove}>
              <button
                type="button"
                class="btn btn-xs btn-danger"
                data-testid="status-approve"
                title="Let this sync delete those notes on this device"
                onClick={() => void sync.approveMassDelete()}>
                Approve
              </button>
            </Show>
          </>
        )}
      </Show>
      <Show when={account.info()?.logged_in}>
        <button
          type="button"
          class="icon-btn sm"
          aria-label="Sync now"
          title={`Sync now (${props.syncKeys})`}
          data-testid="status-sync-now"
          onClick={() => void sync.syncNow()}
        >
          <IconSync />
        </button>
      </Show>
      <button
        type="button"
        class="icon-btn sm"
        aria-label="Sync activity"
        title="Sync activity: history, insights, refused changes"
        aria-haspopup="dialog"
        data-testid="sync-panel-button"
        onClick={() => monitor.setOpen(true)}
      >
        <IconActivity />
      </button>
      <div class="net-anchor">
        <button
          ref={netButton}
          type="button"
          class="icon-btn sm"
          classList={{ on: (sync.status()?.net_mode.mode ?? 'online') !== 'online' }}
          aria-label="Network (testers)"
          title="Network: work offline, simulate a bad network"
          aria-expanded={ui.networkOpen()}
          aria-haspopup="dialog"
          data-testid="network-button"
          onClick={() => ui.setNetworkOpen(!ui.networkOpen())}
        >
          <IconWifi />
        </button>
        <Show when={ui.networkOpen()}>
          <div ref={popover} class="popover" role="dialog" aria-label="Network" data-testid="network-popover">
            <NetworkControls idPrefix="pop" />
          </div>
        </Show>
      </div>
      <button
        type="button"
        class="icon-btn sm"
        aria-label="Keyboard shortcuts"
        title="Keyboard shortcuts (F1)"
        data-testid="help-button"
        onClick={() => ui.setHelpOpen(true)}
      >
        <IconHelp />
      </button>
    </footer>
  );
}
