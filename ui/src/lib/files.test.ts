// @vitest-environment jsdom
import { describe, expect, it, vi } from 'vitest';
import { checkFileSize, fileUrl, formatBytes, MAX_FILE_BYTES, type FilesApi, type NoteFile } from '../api/files';
import { attachFiles, referenceEdit } from './attach';
import { fileStatusLabel } from './filestatus';
import { renderMarkdown } from './markdown';

const ID = 'ab'.repeat(32);

function dom(html: string): HTMLElement {
  const d = document.createElement('div');
  d.innerHTML = html;
  return d;
}

function fakeFiles(refuse?: string): FilesApi & { added: { noteId: string; name: string; bytes: Uint8Array }[] } {
  const added: { noteId: string; name: string; bytes: Uint8Array }[] = [];
  const info = (name: string, size: number): NoteFile => ({
    id: ID,
    name,
    mime: name.endsWith('.png') ? 'image/png' : 'application/octet-stream',
    size,
    state: 'upload',
    local: true,
    chunk_count: 1,
    sent_chunks: 0,
    reference: name.endsWith('.png') ? `![${name}](outpost-file:${ID})` : `[${name}](outpost-file:${ID})`,
  });
  return {
    added,
    addFile: vi.fn(async (noteId: string, name: string, bytes: Uint8Array) => {
      if (name === refuse) throw Object.assign(new Error('refused'), { code: 'note_not_found' });
      added.push({ noteId, name, bytes });
      return info(name, bytes.length);
    }),
    noteFiles: async () => [],
    fileInfo: async () => info('x', 0),
    fileCounts: async () => ({ upload_files: 0, upload_bytes: 0, download_files: 0, download_bytes: 0, cached_bytes: 0 }),
    getKeepAllFiles: async () => false,
    setKeepAllFiles: async () => undefined,
    pickSavePath: async () => null,
    saveFile: async () => 0,
  };
}

describe('attached files in the preview', () => {
  it('an image reference loads from the shell protocol', () => {
    const d = dom(renderMarkdown(`before\n\n![shot.png](outpost-file:${ID})`));
    const img = d.querySelector('img');
    expect(img?.getAttribute('src')).toBe(`outpost-file://localhost/${ID}`);
    expect(img?.getAttribute('data-file-id')).toBe(ID);
    expect(img?.classList.contains('file-image')).toBe(true);
    expect(img?.getAttribute('alt')).toBe('shot.png');
  });

  it('a file link becomes a card that does not navigate', () => {
    const d = dom(renderMarkdown(`[report.pdf](outpost-file:${ID})`));
    const a = d.querySelector('a');
    expect(a?.classList.contains('file-card')).toBe(true);
    expect(a?.getAttribute('href')).toBe('#');
    expect(a?.getAttribute('data-file-id')).toBe(ID);
    expect(a?.textContent).toBe('report.pdf');
  });

  it('a bad id, another scheme or raw HTML aiming at the protocol loads nothing', () => {
    const bad = dom(renderMarkdown('![x](outpost-file:1234)'));
    expect(bad.querySelector('img')?.getAttribute('src') ?? null).toBeNull();
    const raw = dom(renderMarkdown('<img src="outpost-file://localhost/../../etc/passwd">'));
    expect(raw.querySelector('img')?.getAttribute('src') ?? null).toBeNull();
    const forged = dom(renderMarkdown('<img data-file-id="../x" src="https://evil.example/x.png">'));
    expect(forged.querySelector('img')?.getAttribute('src') ?? null).toBeNull();
    expect(forged.querySelector('img')?.hasAttribute('data-file-id')).toBe(false);
  });

  it('Windows (WebView2) reaches the protocol over http', () => {
    expect(fileUrl(ID, true)).toBe(`http://outpost-file.localhost/${ID}`);
    expect(fileUrl(ID, false)).toBe(`outpost-file://localhost/${ID}`);
  });
});

describe('pasting files into the editor', () => {
  it('puts references at the offset, each on its own line', () => {
    expect(referenceEdit('ab', 1, ['R'])).toEqual({ from: 1, insert: '\n\nR\n\n' });
    expect(referenceEdit('a\nb', 2, ['R', 'S'])).toEqual({ from: 2, insert: '\nR\n\nS\n\n' });
    expect(referenceEdit('a\n\n\nb', 3, ['R'])).toEqual({ from: 3, insert: 'R\n' });
    expect(referenceEdit('', 0, ['R'])).toEqual({ from: 0, insert: 'R' });
    expect(referenceEdit('ab', 99, ['R'])).toEqual({ from: 2, insert: '\n\nR' });
  });

  it('attaches each file and inserts the references as one edit', async () => {
    const api = fakeFiles();
    let text = 'hello world';
    const replace = vi.fn((from: number, to: number, insert: string) => {
      text = text.slice(0, from) + insert + text.slice(to);
    });
    const png = new File([new Uint8Array([137, 80, 78, 71])], 'shot.png', { type: 'image/png' });
    const added = await attachFiles(api, 'n1', [png], 5, { text: () => text, replace }, () => undefined);
    expect(added).toHaveLength(1);
    expect(api.added[0]?.noteId).toBe('n1');
    expect(Array.from(api.added[0]?.bytes ?? [])).toEqual([137, 80, 78, 71]);
    expect(replace).toHaveBeenCalledTimes(1);
    expect(text).toBe(`hello\n\n![shot.png](outpost-file:${ID})\n\n world`);
  });

  it('refuses a file over 100 MiB before reading it, and reports a refused one', async () => {
    expect(() => checkFileSize(MAX_FILE_BYTES + 1)).toThrow(/at most 100 MiB/);
    expect(() => checkFileSize(MAX_FILE_BYTES)).not.toThrow();
    const api = fakeFiles('bad.bin');
    const big = new File([], 'big.bin');
    Object.defineProperty(big, 'size', { value: MAX_FILE_BYTES + 1 });
    const read = vi.fn(async () => new ArrayBuffer(0));
    Object.defineProperty(big, 'arrayBuffer', { value: read });
    const errors: unknown[] = [];
    const replace = vi.fn();
    const bad = new File([new Uint8Array([1])], 'bad.bin');
    const added = await attachFiles(api, 'n1', [big, bad], 0, { text: () => '', replace }, (e) => errors.push(e));
    expect(added).toEqual([]);
    expect(read).not.toHaveBeenCalled();
    expect(errors.map((e) => (e as { code: string }).code)).toEqual(['too_large', 'note_not_found']);
    expect(replace).not.toHaveBeenCalled();
  });
});

describe('the status bar line', () => {
  it('says what waits, with bytes, and nothing when nothing does', () => {
    expect(fileStatusLabel(null)).toBe('');
    const none = { upload_files: 0, upload_bytes: 0, download_files: 0, download_bytes: 0, cached_bytes: 9 };
    expect(fileStatusLabel(none)).toBe('');
    expect(fileStatusLabel({ ...none, upload_files: 2, upload_bytes: 3 * 1024 * 1024 })).toBe('Uploading 2 files (3.0 MiB)');
    expect(fileStatusLabel({ ...none, download_files: 1, download_bytes: 500 })).toBe('Downloading 1 file (500 B)');
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });
});
