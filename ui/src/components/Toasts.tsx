import { For } from 'solid-js';
import { useApp } from '../state/context';
import { IconClose } from './icons';

export function Toasts() {
  const { ui } = useApp();
  return (
    <div class="toasts" aria-live="polite" data-testid="toasts">
      <For each={ui.toasts()}>
        {(t) => (
          <div class={`toast toast-${t.kind}`} role={t.kind === 'error' ? 'alert' : 'status'} data-testid={`toast-${t.kind}`}>
            <span class="toast-msg">{t.message}</span>
            {t.code ? <span class="toast-code">{t.code}</span> : null}
            {t.action ? (
              <button
                type="button"
                class="btn btn-sm toast-action"
                data-testid="toast-action"
                onClick={() => {
                  ui.dismissToast(t.id);
                  t.action?.run();
                }}
              >
                {t.action.label}
              </button>
            ) : null}
            <button type="button" class="icon-btn sm" aria-label="Dismiss" onClick={() => ui.dismissToast(t.id)}>
              <IconClose />
            </button>
          </div>
        )}
      </For>
    </div>
  );
}
