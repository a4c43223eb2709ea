import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './ui/App';
import { watchSystemTheme } from './ui/theme';
import './ui/styles.css';

// The e2e test build only (`vite build --mode test`, see README): the tests' handles on the
// workers, installed before the app renders so they exist once the page is up. The
// production build folds this branch away, and the diagnostics chunk with it.
if (import.meta.env.MODE === 'test') {
  const { installTestHooks } = await import('./diagnostics/testHooks');
  installTestHooks();
}
watchSystemTheme();
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
