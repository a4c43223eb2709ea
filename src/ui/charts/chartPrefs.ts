/** How loss charts are drawn, shared by every view (and kept for the session). */
import { create } from 'zustand';

interface ChartPrefs {
  /** EMA weight in [0, 0.99]; 0 draws the raw curve only. */
  smoothing: number;
  logX: boolean;
  logY: boolean;
  /** The x axis of the step charts: the step, or the training time (seconds spent in steps). */
  xAxis: 'step' | 'time';
  set: (p: Partial<Omit<ChartPrefs, 'set'>>) => void;
}

export const useChartPrefs = create<ChartPrefs>((set) => ({
  smoothing: 0.6,
  logX: false,
  logY: false,
  xAxis: 'step',
  set: (p) => set(p),
}));
