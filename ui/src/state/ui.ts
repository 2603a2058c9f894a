// What no domain owns: the overlays, the toasts, and the clock that
// relative times ("2 min ago") read.
import { createSignal } from 'solid-js';
import { toApiError } from '../api/errors';
import { type Toast, type ToastKind, toastDuration } from '../lib/toasts';

export type UiState = ReturnType<typeof createUi>;

/** How often relative times are redrawn: their finest step is a minute. */
const CLOCK_MS = 15_000;

export function createUi() {
  const [settingsOpen, setSettingsOpen] = createSignal(false);
  const [helpOpen, setHelpOpen] = createSignal(false);
  const [networkOpen, setNetworkOpen] = createSignal(false);
  const [toasts, setToasts] = createSignal<Toast[]>([]);
  const [now, setNow] = createSignal(Date.now());

  const timers = new Set<ReturnType<typeof setTimeout>>();
  let clock: ReturnType<typeof setInterval> | null = null;
  let toastSeq = 0;

  function toast(message: string, kind: ToastKind = 'info', code?: string, action?: Toast['action']): void {
    const t: Toast = { id: ++toastSeq, kind, message, ...(code ? { code } : {}), ...(action ? { action } : {}) };
    setToasts((ts) => [...ts.slice(-3), t]);
    const timer = setTimeout(() => {
      timers.delete(timer);
      dismissToast(t.id);
    }, toastDuration(t));
    timers.add(timer);
  }

  function dismissToast(id: number): void {
    setToasts((ts) => ts.filter((t) => t.id !== id));
  }

  function toastError(e: unknown): void {
    const err = toApiError(e);
    toast(err.message, 'error', err.code);
  }

  function startClock(): void {
    clock ??= setInterval(() => setNow(Date.now()), CLOCK_MS);
  }

  function dispose(): void {
    if (clock !== null) clearInterval(clock);
    clock = null;
    for (const t of timers) clearTimeout(t);
    timers.clear();
  }

  return {
    settingsOpen,
    setSettingsOpen,
    helpOpen,
    setHelpOpen,
    networkOpen,
    setNetworkOpen,
    toasts,
    toast,
    toastError,
    dismissToast,
    now,
    startClock,
    dispose,
  };
}
