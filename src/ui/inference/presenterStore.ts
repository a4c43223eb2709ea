/**
 * Which example photo is chosen, and whether the presenter view is open. Kept apart from the
 * inference store: choosing a photo is the page's business, classifying it the worker's.
 */
import { create } from 'zustand';
import { EXAMPLE_IMAGES } from './exampleImages';

export interface PresenterState {
  presenting: boolean;
  /** Index into EXAMPLE_IMAGES of the photo last chosen. */
  index: number;
  choose: (index: number) => void;
  /** Moves by `delta` photos, wrapping round at either end. */
  step: (delta: number) => void;
  open: () => void;
  close: () => void;
}

export const usePresenter = create<PresenterState>((set, get) => ({
  presenting: false,
  index: 0,
  choose: (index) => set({ index }),
  step: (delta) => {
    const n = EXAMPLE_IMAGES.length;
    set({ index: (((get().index + delta) % n) + n) % n });
  },
  open: () => set({ presenting: true }),
  close: () => set({ presenting: false }),
}));
