/**
 * Light, dark or the system's choice. The choice is kept in localStorage and applied as
 * `data-theme` on <html>, which styles.css keys its colours on; charts read the resolved
 * colours from the CSS variables and redraw when the theme changes.
 */
import { create } from 'zustand';

export type ThemeChoice = 'auto' | 'light' | 'dark';
const KEY = 'aim-playground-theme';

function systemDark(): boolean {
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;
}

function resolve(choice: ThemeChoice): 'light' | 'dark' {
  return choice === 'auto' ? (systemDark() ? 'dark' : 'light') : choice;
}

function readChoice(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'auto';
  } catch {
    return 'auto';
  }
}

interface ThemeState {
  choice: ThemeChoice;
  resolved: 'light' | 'dark';
  setChoice: (choice: ThemeChoice) => void;
}

export const useTheme = create<ThemeState>((set) => {
  const choice = readChoice();
  return {
    choice,
    resolved: resolve(choice),
    setChoice: (c) => {
      try {
        localStorage.setItem(KEY, c);
      } catch {
        // Storage refused: the choice lasts for this tab only.
      }
      set({ choice: c, resolved: resolve(c) });
      applyTheme();
    },
  };
});

export function applyTheme(): void {
  document.documentElement.dataset.theme = useTheme.getState().resolved;
}

/** Follow the system setting while the choice is 'auto'. */
export function watchSystemTheme(): void {
  applyTheme();
  if (typeof matchMedia !== 'function') return;
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    const { choice } = useTheme.getState();
    if (choice === 'auto') {
      useTheme.setState({ resolved: resolve('auto') });
      applyTheme();
    }
  });
}

/** A CSS variable's current value (for canvas drawing, which cannot use var()). */
export function cssColour(name: string, fallback = '#888'): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}
