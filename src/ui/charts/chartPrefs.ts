/** How loss charts are drawn, shared by every view (and kept for the session). */
import { create } from 'zustand';

interface ChartPrefs {
  /** EMA weight in [0, 0.99]; 0 draws the raw curve only. */
  smoothing: number;
  logX: boolean;
  logY: boolean;
  set: (p: Partial<Omit<ChartPrefs, 'set'>>) => void;
}

export const useChartPrefs = create<ChartPrefs>((set) => ({
  smoothing: 0.6,
  logX: false,
  logY: false,
  set: (p) => set(p),
}));
