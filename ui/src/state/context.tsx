import { createContext, type JSX, onCleanup, onMount, useContext } from 'solid-js';
import type { Api } from '../api/types';
import { type AppState, createAppState } from './index';

const AppContext = createContext<AppState>();

/** Makes the app's state for everything below it, starts it on mount and stops it on cleanup. */
export function AppProvider(props: { api: Api; children: JSX.Element }) {
  // The Api is fixed for the provider's life: one state, one core.
  const app = createAppState(props.api);
  onMount(() => void app.init());
  onCleanup(() => app.dispose());
  return <AppContext.Provider value={app}>{props.children}</AppContext.Provider>;
}

export function useApp(): AppState {
  const app = useContext(AppContext);
  if (!app) throw new Error('useApp() is called outside <AppProvider>.');
  return app;
}
