// Dev-only harness: the real UI over an in-memory fake of the IPC contract,
// to look at states without the Tauri shell. Served by `npm run dev:fake`;
// never part of the production build (vite builds index.html only).
//
// URL parameters: ?scenario=empty|many|offline|syncing|conflict|settings|error|held|local|incoming|deferred|monitor
//                 &n=10000 &theme=light|dark &big (the first note is ~1 MB)
import { render } from 'solid-js/web';
import { App } from '../src/App';
import { applyTheme } from '../src/lib/theme';
import '../src/styles.css';
import { createFakeApi, type Scenario } from './fake';

const params = new URLSearchParams(location.search);
const scenario = (params.get('scenario') ?? 'many') as Scenario;
const theme = params.get('theme') === 'dark' ? 'dark' : params.get('theme') === 'light' ? 'light' : 'system';
const n = Number(params.get('n') ?? (scenario === 'empty' ? 0 : 10_000));

const fake = createFakeApi({ scenario, count: n, theme, bigFirst: params.has('big') });
applyTheme(document.documentElement, theme, window.matchMedia('(prefers-color-scheme: dark)').matches);
render(() => <App api={fake.api} />, document.getElementById('app')!);

// Scenario steps that need the app on screen.
void fake.afterStart();
