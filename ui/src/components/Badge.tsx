import type { SyncBadge } from '../api/types';

const LABEL: Record<SyncBadge, string> = {
  synced: 'Synced',
  pending: 'Waiting to sync',
  failed: 'Sync failed',
  conflict: 'Conflict',
};

/** A small dot (list) or pill (editor header) for a note's sync state. */
export function Badge(props: { sync: SyncBadge; pill?: boolean }) {
  return (
    <span
      class={`badge badge-${props.sync} ${props.pill ? 'badge-pill' : ''}`}
      title={LABEL[props.sync]}
      data-testid="note-badge"
      data-sync={props.sync}
    >
      <span class="badge-dot" aria-hidden="true" />
      {props.pill ? <span>{LABEL[props.sync]}</span> : <span class="sr-only">{LABEL[props.sync]}</span>}
    </span>
  );
}

export function badgeLabel(s: SyncBadge): string {
  return LABEL[s];
}
