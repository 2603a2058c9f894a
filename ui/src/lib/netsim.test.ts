import { describe, expect, it } from 'vitest';
import {
  describeNetMode,
  formFromMode,
  meteredChoice,
  otherOverrides,
  validateNetForm,
  withMetered,
  withPower,
} from './netsim';

describe('bad-network form', () => {
  it('turns percent into a 0..1 drop rate', () => {
    expect(validateNetForm({ drop: '25', latency: '300' })).toEqual({
      ok: true,
      mode: { mode: 'flaky', drop: 0.25, latency_ms: 300 },
    });
    expect(validateNetForm({ drop: '0', latency: '0' })).toEqual({ ok: true, mode: { mode: 'flaky', drop: 0, latency_ms: 0 } });
    expect(validateNetForm({ drop: '100', latency: '60000' })).toEqual({
      ok: true,
      mode: { mode: 'flaky', drop: 1, latency_ms: 60000 },
    });
    expect(validateNetForm({ drop: ' 12.5 ', latency: '10' })).toMatchObject({ ok: true, mode: { drop: 0.125 } });
  });

  it.each([
    ['101', '0', 'drop'],
    ['-1', '0', 'drop'],
    ['abc', '0', 'drop'],
    ['', '0', 'drop'],
    ['10', '60001', 'latency'],
    ['10', '-5', 'latency'],
    ['10', '1.5', 'latency'],
    ['10', '', 'latency'],
  ])('drop %s, latency %s: %s is refused', (drop, latency, field) => {
    const r = validateNetForm({ drop, latency });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(Object.keys(r.errors)).toEqual([field]);
  });

  it('both fields wrong: both errors', () => {
    const r = validateNetForm({ drop: '200', latency: 'x' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(Object.keys(r.errors).sort()).toEqual(['drop', 'latency']);
  });

  it('fills the form from the mode in force', () => {
    expect(formFromMode({ mode: 'flaky', drop: 0.3, latency_ms: 250 })).toEqual({ drop: '30', latency: '250' });
    expect(formFromMode({ mode: 'online' })).toEqual({ drop: '20', latency: '500' });
  });

  it('describes modes', () => {
    expect(describeNetMode({ mode: 'online' })).toBe('Normal network');
    expect(describeNetMode({ mode: 'offline' })).toBe('Working offline');
    expect(describeNetMode({ mode: 'flaky', drop: 0.25, latency_ms: 300 })).toBe('Bad network: 25 % dropped, +300 ms');
  });
});

describe('device situation switches', () => {
  it('reads the metered switch from the overrides', () => {
    expect(meteredChoice({})).toBe('os');
    expect(meteredChoice({ network: null })).toBe('os');
    expect(meteredChoice({ network: 'metered' })).toBe('on');
    expect(meteredChoice({ network: 'unmetered' })).toBe('off');
    expect(meteredChoice({ network: 'none' })).toBeNull();
  });

  it('sets one field and keeps the others; OS drops the field', () => {
    const o = { power: 'low', app: 'background' } as const;
    expect(withMetered(o, 'on')).toEqual({ network: 'metered', power: 'low', app: 'background' });
    expect(withMetered(o, 'off')).toEqual({ network: 'unmetered', power: 'low', app: 'background' });
    expect(withMetered({ ...o, network: 'metered' }, 'os')).toEqual(o);
    expect(withPower(o, 'saver')).toEqual({ power: 'saver', app: 'background' });
    expect(withPower(o, '')).toEqual({ app: 'background' });
    // Not a power state: taken as "as the OS says", never sent as is.
    expect(withPower(o, 'nuclear')).toEqual({ app: 'background' });
    expect(o).toEqual({ power: 'low', app: 'background' });
  });

  it('names what is set that the panel has no control for', () => {
    expect(otherOverrides({ network: 'metered', power: 'low' })).toBeNull();
    expect(otherOverrides({ network: 'none', app: 'suspended' })).toBe('Also set elsewhere: no network, app suspended.');
  });
});
