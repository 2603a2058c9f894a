import { createEffect, createSignal, on, Show } from 'solid-js';
import type { FileProgress } from '../api/files';
import { fileStatusLabel } from '../lib/filestatus';
import { useApp } from '../state/context';

/**
 * Files waiting to upload or download, with bytes: read again on every
 * sync status event (one read at a time; a read that fails shows nothing).
 */
export function FileStatus() {
  const { api, sync } = useApp();
  const [counts, setCounts] = createSignal<FileProgress | null>(null);
  let reading = false;
  let again = false;
  async function read() {
    const files = api.files;
    if (!files) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      setCounts(await files.fileCounts());
    } catch {
      setCounts(null);
    } finally {
      reading = false;
    }
    if (again) {
      again = false;
      void read();
    }
  }
  createEffect(on(() => sync.status(), () => void read()));
  const label = () => fileStatusLabel(counts());
  return (
    <Show when={label()}>
      <span
        class="status-item file-status"
        data-testid="status-files"
        data-upload={counts()?.upload_files ?? 0}
        data-download={counts()?.download_files ?? 0}
      >
        {label()}
      </span>
    </Show>
  );
}
