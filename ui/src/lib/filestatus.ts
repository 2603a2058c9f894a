// The status bar's file line: what waits to upload and download, in files
// and bytes, from the core's file counts. Empty when nothing moves.
import { formatBytes, type FileProgress } from '../api/files';

function files(n: number): string {
  return n === 1 ? '1 file' : `${n} files`;
}

export function fileStatusLabel(c: FileProgress | null): string {
  if (!c) return '';
  const parts: string[] = [];
  if (c.upload_files > 0) parts.push(`Uploading ${files(c.upload_files)} (${formatBytes(c.upload_bytes)})`);
  if (c.download_files > 0) parts.push(`Downloading ${files(c.download_files)} (${formatBytes(c.download_bytes)})`);
  return parts.join(' · ');
}
