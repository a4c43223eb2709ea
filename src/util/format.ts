/**
 * Numbers, bytes and durations as people read them. Below every layer (imports nothing), so
 * the UI, the workers and the CLIs print sizes alike.
 */

/**
 * Digits after the point per unit. The defaults suit sizes that vary (downloads, GPU
 * memory); the exporter prints KiB with one digit, the adapter's limits (powers of two)
 * print whole.
 */
export interface BytesFormat {
  gib?: number;
  mib?: number;
  kib?: number;
  /** A whole number of GiB prints without decimals ("4 GiB", an adapter limit). */
  wholeGibWithoutDecimals?: boolean;
}

/** The adapter-limits table: "4 GiB", "128 MiB", "32 KiB". */
export const LIMIT_BYTES_FORMAT: BytesFormat = { mib: 0, wholeGibWithoutDecimals: true };

/** The exporter's file list: "812.5 KiB". */
export const FILE_BYTES_FORMAT: BytesFormat = { kib: 1 };

export function formatBytes(n: number, format: BytesFormat = {}): string {
  if (!Number.isFinite(n)) return '—';
  const { gib = 2, mib = 1, kib = 0, wholeGibWithoutDecimals = false } = format;
  if (n >= 2 ** 30) {
    const digits = wholeGibWithoutDecimals && n % 2 ** 30 === 0 ? 0 : gib;
    return `${(n / 2 ** 30).toFixed(digits)} GiB`;
  }
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(mib)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(kib)} KiB`;
  return `${n} B`;
}

/** "850 ms", "2.4 s", "42 s", "3 min 05 s", "1 h 17 min", "3 days 4 h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.max(1, Math.round(ms))} ms`;
  if (ms < 9950) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} days ${h % 24} h`;
}

export function formatNumber(x: number | undefined, digits = 4): string {
  if (x === undefined || Number.isNaN(x)) return '—';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)) return x.toExponential(2);
  return Number(x.toPrecision(digits)).toString();
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}
