import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { LatchkeyProvider } from '@latchkey/react';
import { App } from './App.jsx';
import './styles.css';

// Where Latchkey runs (scripts/dev.mjs sets it); tokens stay in memory (the SDK's default).
const baseUrl = import.meta.env.VITE_LATCHKEY_URL || 'http://127.0.0.1:8080';

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <LatchkeyProvider baseUrl={baseUrl}>
      <App />
    </LatchkeyProvider>
  </StrictMode>,
);
