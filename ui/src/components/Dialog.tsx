import { type JSX, onCleanup, onMount } from 'solid-js';
import { Portal } from 'solid-js/web';
import { IconClose } from './icons';

const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), textarea, [tabindex]:not([tabindex="-1"])';

/** A modal dialog: focus moves in and back, Tab stays inside, Escape closes (app-wide handler). */
export function Dialog(props: { title: string; onClose: () => void; children: JSX.Element; testid: string; wide?: boolean }) {
  let panel!: HTMLDivElement;
  const before = document.activeElement as HTMLElement | null;
  onMount(() => {
    // The first field marked autofocus, else the dialog itself (screen
    // readers then read its title; Tab goes to the first control).
    (panel.querySelector<HTMLElement>('[autofocus]') ?? panel).focus();
  });
  onCleanup(() => before?.focus?.());

  function trap(e: KeyboardEvent) {
    // Escape the app-wide handler left alone (a dialog it does not know of).
    if (e.key === 'Escape' && !e.defaultPrevented) {
      e.preventDefault();
      props.onClose();
      return;
    }
    if (e.key !== 'Tab') return;
    const items = [...panel.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null);
    if (items.length === 0) return;
    const first = items[0]!;
    const last = items[items.length - 1]!;
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  }

  return (
    <Portal>
      <div class="scrim" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
        <div
          ref={panel}
          class="dialog"
          classList={{ wide: !!props.wide }}
          role="dialog"
          aria-modal="true"
          aria-labelledby={`${props.testid}-title`}
          tabindex="-1"
          data-testid={props.testid}
          onKeyDown={trap}
        >
          <header class="dialog-head">
            <h2 id={`${props.testid}-title`}>{props.title}</h2>
            <button type="button" class="icon-btn" aria-label="Close" data-testid={`${props.testid}-close`} onClick={() => props.onClose()}>
              <IconClose />
            </button>
          </header>
          <div class="dialog-body">{props.children}</div>
        </div>
      </div>
    </Portal>
  );
}
