import { For } from 'solid-js';
import { shortcutList } from '../lib/shortcuts';

export function ShortcutTable(props: { isMac: boolean }) {
  return (
    <table class="shortcuts" data-testid="shortcuts">
      <tbody>
        <For each={shortcutList(props.isMac)}>
          {(s) => (
            <tr>
              <td>
                <kbd>{s.keys}</kbd>
              </td>
              <td>{s.what}</td>
            </tr>
          )}
        </For>
      </tbody>
    </table>
  );
}
