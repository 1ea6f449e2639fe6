import { describe, expect, test } from 'vitest';
import { applySettingsPatch, ClientRequestSchema, DEFAULT_FILTER_SETTINGS, FilterSettingsPatchSchema } from '../src/index.js';

describe('shared schemas', () => {
  test('settings patches merge field by field, view included', () => {
    const s = applySettingsPatch(DEFAULT_FILTER_SETTINGS, { enabled: true, view: { yaw: 20 } });
    expect(s.enabled).toBe(true);
    expect(s.view).toEqual({ yaw: 20, pitch: 0, frontalize: false });
    expect(applySettingsPatch(s, { prompt: { kind: 'text', text: 'bronze' } }).prompt).toEqual({ kind: 'text', text: 'bronze' });
    expect(applySettingsPatch(s, { prompt: null }).prompt).toBeNull();
  });

  test('out-of-range or unknown settings are rejected', () => {
    expect(FilterSettingsPatchSchema.safeParse({ view: { yaw: 90 } }).success).toBe(false);
    expect(FilterSettingsPatchSchema.safeParse({ strength: Number.NaN }).success).toBe(false);
    expect(FilterSettingsPatchSchema.safeParse({ colour: 'red' }).success).toBe(false);
    expect(FilterSettingsPatchSchema.safeParse({ prompt: { kind: 'text', text: '  ' } }).success).toBe(false);
    expect(FilterSettingsPatchSchema.safeParse({ prompt: { kind: 'image', uploadId: '../../etc' } }).success).toBe(false);
  });

  test('requests are strict: extra fields and unknown types fail', () => {
    expect(ClientRequestSchema.safeParse({ type: 'ping' }).success).toBe(true);
    expect(ClientRequestSchema.safeParse({ type: 'ping', x: 1 }).success).toBe(false);
    expect(ClientRequestSchema.safeParse({ type: 'pong' }).success).toBe(false);
  });
});
