import { createSignal, For, onMount, Show } from 'solid-js';
import type { NetMode } from '../api/types';
import {
  describeNetMode,
  formFromMode,
  MAX_LATENCY_MS,
  METERED_CHOICES,
  meteredChoice,
  otherOverrides,
  POWER_CHOICES,
  validateNetForm,
  withMetered,
  withPower,
} from '../lib/netsim';
import { useApp } from '../state/context';

/** Testers' controls: work offline, the device's situation, and a simulated bad network. */
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

      <DeviceSwitches idPrefix={props.idPrefix} />

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

/**
 * What the sync policy sees of the device, over what the OS reports: a
 * metered network and the power state (the device file, as `outpost net
 * metered|power` writes it; the engine applies it within a second).
 */
function DeviceSwitches(props: { idPrefix: string }) {
  const { sync } = useApp();
  const id = (s: string) => `${props.idPrefix}-${s}`;
  // The CLI may have changed the file since the panel last showed.
  onMount(() => void sync.readSituation());
  const metered = () => {
    const o = sync.situation();
    return o ? meteredChoice(o) : null;
  };
  const power = () => sync.situation()?.power ?? '';
  const other = () => {
    const o = sync.situation();
    return o ? otherOverrides(o) : null;
  };

  return (
    <fieldset class="net-device" disabled={!sync.situation()} data-testid="net-device">
      <legend>Device</legend>
      <div class="field-row">
        <div class="field">
          <span class="field-label" id={id('metered-label')}>
            Metered network
          </span>
          <div class="segmented compact" role="radiogroup" aria-labelledby={id('metered-label')}>
            <For each={METERED_CHOICES}>
              {(c) => (
                <label class="seg" classList={{ on: metered() === c.value }}>
                  <input
                    type="radio"
                    name={id('metered')}
                    value={c.value}
                    checked={metered() === c.value}
                    data-testid={`net-metered-${c.value}`}
                    onChange={() => void sync.changeSituation((o) => withMetered(o, c.value))}
                  />
                  {c.label}
                </label>
              )}
            </For>
          </div>
        </div>
        <div class="field">
          <label for={id('power')}>Power</label>
          <select
            id={id('power')}
            data-testid="net-power"
            value={power()}
            onChange={(e) => {
              const v = e.currentTarget.value;
              void sync.changeSituation((o) => withPower(o, v));
            }}
          >
            <For each={POWER_CHOICES}>{(p) => <option value={p.value}>{p.label}</option>}</For>
          </select>
        </div>
      </div>
      <p class="muted small">
        OS: as the system reports it. Applies within a second, as the CLI's `net metered|power` does.
        <Show when={other()}>{(t) => <> {t()}</>}</Show>
      </p>
    </fieldset>
  );
}
