#!/usr/bin/env node
// The `kvforge` command. kvforge (and a user's variant files) are TypeScript, run as they are
// through tsx's loader: no build step between editing a variant and running it.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
