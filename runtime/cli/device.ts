/** `kvforge device` */
import { loadAddon } from '../api/native.ts';
import { loadShipped } from '../api/shipped.ts';

export async function deviceCommand(): Promise<void> {
  const { addon } = await loadShipped();
  console.log(JSON.stringify(loadAddon(addon.path).deviceReport(), null, 2));
}
