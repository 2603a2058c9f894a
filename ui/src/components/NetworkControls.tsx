import { createSignal, Show } from 'solid-js';
import type { NetMode } from '../api/types';
import { describeNetMode, formFromMode, MAX_LATENCY_MS, validateNetForm } from '../lib/netsim';
import { useApp } from '../state/context';

/** Testers' controls: work offline, and a simulated bad network. */
export function NetworkControls(props: { idPrefix: string }) {
  const { ui, sync } = useApp();
  const mode = (): NetMode => sync.status()?.net_mode ?? { mode: 'online' };
  const offline = () => mode().mode === 'offline';
  const initial = formFromMode(mode());
  const [drop, setDrop] = createSignal(initial.drop);
  const [latency, setLatency] = createSignal(initial.latency);
  const [errors, setErrors] = createSignal<{ drop?: string; latency?: string }>({});
  const id = (s: string) => `${props.idPrefix}-${s}`;

  async function applyFlaky(e: Event) {
    e.preventDefault();
    const r = validateNetForm({ drop: drop(), latency: latency() });
    if (!r.ok) {
      setErrors(r.errors);
      return;
    }
    setErrors({});
    if (await sync.setNetwork(r.mode)) ui.toast(describeNetMode(r.mode) + ' applied.');
  }

  return (
    <div class="net-controls">
      <label class="switch-row" for={id('offline')}>
        <span>
          <strong>Work offline</strong>
          <span class="muted block">Stop syncing; edits stay on this device until you switch back.</span>
        </span>
        <input
          id={id('offline')}
          type="checkbox"
          role="switch"
          class="switch"
          data-testid="offline-switch"
          checked={offline()}
          onChange={(e) => void sync.setNetwork(e.currentTarget.checked ? { mode: 'offline' } : { mode: 'online' })}
        />
      </label>

      <form class="net-sim" onSubmit={(e) => void applyFlaky(e)} novalidate>
        <fieldset>
          <legend>Bad-network simulator</legend>
          <div class="field-row">
            <div class="field">
              <label for={id('drop')}>Drop rate (%)</label>
              <input
                id={id('drop')}
                inputmode="decimal"
                data-testid="net-drop"
                value={drop()}
                aria-invalid={!!errors().drop}
                aria-describedby={errors().drop ? id('drop-err') : undefined}
                onInput={(e) => setDrop(e.currentTarget.value)}
              />
            </div>
            <div class="field">
              <label for={id('latency')}>Added latency (ms)</label>
              <input
                id={id('latency')}
                inputmode="numeric"
                data-testid="net-latency"
                value={latency()}
                aria-invalid={!!errors().latency}
                aria-describedby={errors().latency ? id('latency-err') : undefined}
                onInput={(e) => setLatency(e.currentTarget.value)}
              />
            </div>
          </div>
          <Show when={errors().drop}>
            <p class="field-error" id={id('drop-err')}>
              {errors().drop}
            </p>
          </Show>
          <Show when={errors().latency}>
            <p class="field-error" id={id('latency-err')}>
              {errors().latency}
            </p>
          </Show>
          <p class="muted small">Drop 0–100 %, latency 0–{MAX_LATENCY_MS} ms. Applies to every request, as the CLI's `net` does.</p>
          <div class="row">
            <button type="submit" class="btn btn-sm btn-primary" data-testid="net-apply">
              Apply
            </button>
            <button
              type="button"
              class="btn btn-sm"
              data-testid="net-reset"
              disabled={mode().mode === 'online'}
              onClick={() => void sync.setNetwork({ mode: 'online' })}
            >
              Normal network
            </button>
          </div>
        </fieldset>
      </form>
      <p class="muted small" data-testid="net-mode">
        Now: {describeNetMode(mode())}
      </p>
    </div>
  );
}
