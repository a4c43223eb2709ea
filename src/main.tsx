import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './ui/App';
import { installTestHooks } from './ui/testHooks';
import { watchSystemTheme } from './ui/theme';
import './ui/styles.css';

installTestHooks();
watchSystemTheme();
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
