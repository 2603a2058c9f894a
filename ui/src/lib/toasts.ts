export type ToastKind = 'info' | 'error';

export interface Toast {
  id: number;
  kind: ToastKind;
  message: string;
  /** An error's code, shown small (helps bug reports). */
  code?: string;
  /** A button on the toast (e.g. Undo); pressing it dismisses the toast. */
  action?: { label: string; run: () => void };
}

export function toastDuration(t: Toast): number {
  return t.kind === 'error' ? 10_000 : 4_000;
}
