import { describe, expect, it } from 'vitest';
import {
  FILE_BYTES_FORMAT,
  formatBytes,
  formatDuration,
  LIMIT_BYTES_FORMAT,
} from '../src/util/format';

// One formatBytes replaced three: each call site's text stays what its own copy printed.
describe('formatBytes', () => {
  const KiB = 2 ** 10;
  const MiB = 2 ** 20;
  const GiB = 2 ** 30;

  it('prints sizes that vary with GiB·2, MiB·1, KiB·0 digits', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('2 KiB');
    expect(formatBytes(128 * MiB)).toBe('128.0 MiB');
    expect(formatBytes(1.5 * GiB)).toBe('1.50 GiB');
    expect(formatBytes(4 * GiB)).toBe('4.00 GiB');
    expect(formatBytes(Number.NaN)).toBe('—');
  });

  it('prints adapter limits whole: "4 GiB", "128 MiB", "16 KiB"', () => {
    expect(formatBytes(4 * GiB, LIMIT_BYTES_FORMAT)).toBe('4 GiB');
    expect(formatBytes(4 * GiB - 4, LIMIT_BYTES_FORMAT)).toBe('4.00 GiB');
    expect(formatBytes(2.5 * GiB, LIMIT_BYTES_FORMAT)).toBe('2.50 GiB');
    expect(formatBytes(128 * MiB, LIMIT_BYTES_FORMAT)).toBe('128 MiB');
    expect(formatBytes(16 * KiB, LIMIT_BYTES_FORMAT)).toBe('16 KiB');
    expect(formatBytes(100, LIMIT_BYTES_FORMAT)).toBe('100 B');
  });

  it("prints the exporter's files with KiB·1", () => {
    expect(formatBytes(812.5 * KiB, FILE_BYTES_FORMAT)).toBe('812.5 KiB');
    expect(formatBytes(1.25 * MiB, FILE_BYTES_FORMAT)).toBe('1.3 MiB');
    expect(formatBytes(3 * GiB, FILE_BYTES_FORMAT)).toBe('3.00 GiB');
  });
});

describe('formatDuration', () => {
  it('reads from milliseconds to days', () => {
    expect(formatDuration(0.2)).toBe('1 ms');
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(2400)).toBe('2.4 s');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(185_000)).toBe('3 min 05 s');
    expect(formatDuration(77 * 60_000)).toBe('1 h 17 min');
    expect(formatDuration(76 * 3_600_000)).toBe('3 days 4 h');
    expect(formatDuration(NaN)).toBe('—');
  });
});
