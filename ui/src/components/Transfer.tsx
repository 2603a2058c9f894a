// Settings > Import and export, and Settings > Start over with the server.
import { createSignal, For, onCleanup, Show } from 'solid-js';
import type { ImportProgress, ImportReport, PickKind } from '../api/types';
import { useApp } from '../state/context';
import { Dialog } from './Dialog';

const FORMATS: Record<string, string> = {
  markdown: 'Markdown',
  jsonl: 'JSON Lines',
  enex: 'Evernote',
  'standard-notes': 'Standard Notes',
};

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

/** Import a folder or a file through the native picker, with progress and a summary; export every note. */
export function TransferSection() {
  const { api, ui, notes } = useApp();
  const [busy, setBusy] = createSignal<'import' | 'export' | null>(null);
  const [progress, setProgress] = createSignal<ImportProgress | null>(null);
  const [report, setReport] = createSignal<ImportReport | null>(null);
  let unlisten: (() => void) | null = null;
  onCleanup(() => unlisten?.());

  async function importFrom(kind: PickKind) {
    try {
      const path = await api.pickPath(kind);
      if (!path) return;
      setBusy('import');
      setProgress({ read: 0, imported: 0, duplicates: 0, skipped: 0 });
      unlisten ??= await api.onImportProgress((p) => setProgress(p));
      const r = await api.importNotes(path);
      setReport(r);
      await notes.reload();
    } catch (e) {
      ui.toastError(e);
    } finally {
      setBusy(null);
      setProgress(null);
    }
  }

  async function exportAll() {
    try {
      const path = await api.pickPath('export_folder');
      if (!path) return;
      setBusy('export');
      const n = await api.exportNotes(path);
      ui.toast(`Exported ${plural(n, 'note')} to ${path} as Markdown with front matter.`);
    } catch (e) {
      ui.toastError(e);
    } finally {
      setBusy(null);
    }
  }

  return (
    <div class="transfer" data-testid="settings-transfer">
      <p class="muted small">
        Bring notes from Obsidian or Joplin (a folder of Markdown files; folders become tags), Evernote (.enex), Standard Notes (its
        decrypted backup) or JSON Lines. A note already here is not imported twice.
      </p>
      <div class="row transfer-actions">
        <button type="button" class="btn" disabled={!!busy()} data-testid="import-folder" onClick={() => void importFrom('import_folder')}>
          Import a folder…
        </button>
        <button type="button" class="btn" disabled={!!busy()} data-testid="import-file" onClick={() => void importFrom('import_file')}>
          Import a file…
        </button>
        <button type="button" class="btn" disabled={!!busy()} data-testid="export-all" onClick={() => void exportAll()}>
          Export all notes…
        </button>
      </div>
      <Show when={busy()}>
        <p class="muted small" role="status" aria-live="polite" data-testid="transfer-progress">
          <Show when={busy() === 'import'} fallback="Exporting…">
            Importing… {plural(progress()?.read ?? 0, 'note')} read, {progress()?.imported ?? 0} imported
          </Show>
        </p>
      </Show>
      <Show when={report()}>
        {(r) => <ImportSummaryDialog report={r()} onClose={() => setReport(null)} />}
      </Show>
    </div>
  );
}

export function ImportSummaryDialog(props: { report: ImportReport; onClose: () => void }) {
  const r = () => props.report;
  return (
    <Dialog title="Import finished" testid="import-summary" onClose={() => props.onClose()}>
      <p data-testid="import-counts">
        <strong data-testid="import-imported">{plural(r().imported, 'note')} imported</strong> from {FORMATS[r().format] ?? r().format}
        <Show when={r().duplicates > 0}>; {plural(r().duplicates, 'note was', 'notes were')} already here</Show>
        <Show when={r().skipped.length > 0}>; {plural(r().skipped.length, 'note')} skipped</Show>.
      </p>
      <Show when={r().skipped.length > 0}>
        <h4>Skipped</h4>
        <ul class="import-list" data-testid="import-skipped">
          <For each={r().skipped}>
            {(s) => (
              <li data-testid="import-skipped-item">
                <span class="mono">{s.at}</span>
                <Show when={s.title}> · {s.title}</Show>
                <div class="muted small">{s.reason}</div>
              </li>
            )}
          </For>
        </ul>
      </Show>
      <Show when={r().left_out.length > 0}>
        <h4>Imported without some parts</h4>
        <ul class="import-list" data-testid="import-left-out">
          <For each={r().left_out}>
            {(s) => (
              <li>
                <span class="mono">{s.at}</span>
                <div class="muted small">{s.reason}</div>
              </li>
            )}
          </For>
        </ul>
      </Show>
      <div class="row dialog-actions">
        <button type="button" class="btn btn-primary" data-testid="import-summary-done" autofocus onClick={() => props.onClose()}>
          Done
        </button>
      </div>
    </Dialog>
  );
}

/** Start over with the server (`outpost sync --start-over`), after saying what it does. */
export function StartOverSection() {
  const { api, ui } = useApp();
  const [asking, setAsking] = createSignal(false);
  const [busy, setBusy] = createSignal(false);
  async function go() {
    setBusy(true);
    try {
      const r = await api.startOver();
      setAsking(false);
      ui.toast(`Started over with the server: ${plural(r.requeued, 'note')} will be sent again, then everything is pulled.`);
    } catch (e) {
      ui.toastError(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <div class="start-over" data-testid="settings-start-over">
      <Show
        when={asking()}
        fallback={
          <button type="button" class="btn" data-testid="start-over" onClick={() => setAsking(true)}>
            Start over with the server…
          </button>
        }
      >
        <div class="callout warn" role="alert" data-testid="start-over-warning">
          <p>
            This device forgets what it believed the server holds, <strong>sends every one of its notes again</strong>, then pulls
            everything. No note changes here; a note the server also has from another device is merged as usual. Use it after the
            server was restored from a backup and other devices synced with it first. It may take a while with many notes.
          </p>
          <div class="row dialog-actions">
            <button type="button" class="btn" data-testid="start-over-cancel" onClick={() => setAsking(false)}>
              Cancel
            </button>
            <button type="button" class="btn btn-primary" disabled={busy()} data-testid="start-over-confirm" onClick={() => void go()}>
              Start over
            </button>
          </div>
        </div>
      </Show>
    </div>
  );
}
