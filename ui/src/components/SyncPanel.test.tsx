// @vitest-environment jsdom
// The Sync panel in the whole app over the dev harness's in-memory core:
// opened from the status bar, the insights and the stale warning as the
// core says them, Retry, and Discard behind its confirmation.
import { render } from 'solid-js/web';
import { describe, expect, it, vi } from 'vitest';
import { createFakeApi } from '../../dev/fake';
import { App } from '../App';
import { $, $$, appDom, until } from '../testing/app-dom';

const mounted = appDom();

function start(scenario: Parameters<typeof createFakeApi>[0]['scenario'], before?: (fake: ReturnType<typeof createFakeApi>) => void) {
  const fake = createFakeApi({ scenario, count: 20, theme: 'light' });
  before?.(fake);
  const root = document.createElement('div');
  document.body.appendChild(root);
  mounted.dispose = render(() => <App api={fake.api} />, root);
  return fake;
}

async function openPanel() {
  (await until(() => $('sync-panel-button'))).click();
  await until(() => $('sync-passes') ?? $('passes-empty'));
  return $('sync-panel')!;
}

const entries = () => $$('outbox-entry');

describe('the Sync panel', () => {
  it('opens from the failed count in the status bar, shows insights, passes and refused changes, and Escape closes it', async () => {
    start('monitor');
    (await until(() => $('status-failed'))).click();
    const panel = await until(() => $('sync-panel'));
    await until(() => $('sync-passes'));
    expect(panel.getAttribute('role')).toBe('dialog');
    expect($('insight-success')!.textContent).toMatch(/^\d+%$/);
    expect($('insight-median')!.textContent).toMatch(/^\d+(\.\d)? (ms|s|min)$/);
    expect($('insight-p95')!.textContent).toMatch(/^median; .+ at p95$/);
    expect($('sync-bytes-week')!.getAttribute('aria-label')).toMatch(/^Bytes per day, last 7 days: /);
    expect($$('sync-pass').length).toBe(25);
    $('passes-more')!.click();
    await until(() => $$('sync-pass').length === 60);
    expect(entries()).toHaveLength(2);
    expect($('outbox-last-error', entries()[0])!.textContent).toContain('a tag is longer than 64 bytes');
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    await until(() => !$('sync-panel'));
  });

  it('warns when the insights say a change is stale, and not otherwise', async () => {
    start('monitor');
    await openPanel();
    expect($('sync-stale-warning')!.textContent).toContain('A change has waited 3 h for the server, longer than 60 min.');
    expect($('sync-stale-warning')!.getAttribute('role')).toBe('alert');
    mounted.dispose?.();
    document.body.innerHTML = '';
    start('monitor', (fake) => {
      const real = fake.api.syncHistory.bind(fake.api);
      fake.api.syncHistory = async () => {
        const h = await real();
        return { ...h, insights: { ...h.insights, stale: false } };
      };
    });
    await openPanel();
    expect($('sync-stale-warning')).toBeNull();
    expect($('sync-unsent')!.textContent).toContain('The oldest change not yet on the server was made 3 h ago.');
  });

  it('Retry calls the command and the list refreshes without the entry', async () => {
    const fake = start('monitor');
    const retry = vi.spyOn(fake.api, 'outboxRetry');
    await openPanel();
    const [first, second] = entries();
    $('outbox-retry', first)!.click();
    expect(retry).toHaveBeenCalledWith(Number(first!.dataset.seq));
    await until(() => entries().length === 1);
    expect(entries()[0]!.dataset.seq).toBe(second!.dataset.seq);
    await until(() => $('toast-info')?.textContent?.includes('back in the queue'));
  });

  it('Discard asks first, says the change will be lost, and discards only when confirmed', async () => {
    const fake = start('monitor');
    const discard = vi.spyOn(fake.api, 'outboxDiscard');
    await openPanel();
    const first = entries()[0]!;
    const seq = Number(first.dataset.seq);
    $('outbox-discard', first)!.click();
    const warning = await until(() => $('outbox-discard-warning', first));
    expect(warning.textContent).toContain('lost for sync');
    expect(warning.textContent).toContain('keeps its text on this device');
    expect(discard).not.toHaveBeenCalled();
    // Escape backs out of the confirmation, not the panel.
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    await until(() => !$('outbox-discard-warning'));
    expect($('sync-panel')).not.toBeNull();
    $('outbox-discard', entries()[0]!)!.click();
    (await until(() => $('outbox-discard-cancel'))).click();
    await until(() => !$('outbox-discard-warning'));
    expect(discard).not.toHaveBeenCalled();
    $('outbox-discard', entries()[0]!)!.click();
    (await until(() => $('outbox-discard-confirm'))).click();
    expect(discard).toHaveBeenCalledExactlyOnceWith(seq);
    await until(() => entries().length === 1);
    await until(() => $('outbox-discarded')?.textContent?.includes('1 discarded change'));
  });

  it('a device with nothing recorded says so', async () => {
    start('local');
    await openPanel();
    expect($('passes-empty')!.textContent).toContain('No sync pass recorded yet');
    expect($('outbox-no-failed')).not.toBeNull();
    expect($('insight-success')!.textContent).toBe('—');
  });
});
