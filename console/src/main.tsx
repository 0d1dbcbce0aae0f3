import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { loadConfig } from './api.ts';
import { directionOf } from './messages.ts';
import './styles.css';

document.documentElement.lang = navigator.language || 'en';
document.documentElement.dir = directionOf(navigator.language || 'en');

void loadConfig().then(() => {
  const root = document.getElementById('root');
  if (root)
    createRoot(root).render(
      <StrictMode>
        <App />
      </StrictMode>,
    );
});
