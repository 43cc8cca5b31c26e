/** `kvforge device` */
import { loadAddon } from '../native.ts';
import { loadShipped } from '../shipped.ts';

export async function deviceCommand(): Promise<void> {
  const { addon } = await loadShipped();
  console.log(JSON.stringify(loadAddon(addon.path).deviceReport(), null, 2));
}
