import { render } from 'solid-js/web';
import { tauriApi } from './api';
import { App } from './App';
import { applyTheme, cachedTheme } from './lib/theme';
import './styles.css';

// Paint in the last theme at once; the core's setting follows.
applyTheme(document.documentElement, cachedTheme(localStorage), window.matchMedia('(prefers-color-scheme: dark)').matches);
render(() => <App api={tauriApi} />, document.getElementById('app')!);
