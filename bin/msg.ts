/**
 * msg, as a process: runs lib/cli/main.ts on this process's arguments and streams, and exits with its status once
 * what it printed has reached standard output. Exiting at once would cut a pipe off at its buffer (64 KiB): `msg dlq
 * peek --json | wc -c` would count a truncated answer. bin/msg.js starts it.
 */
import { runMsg } from '../lib/cli/main.ts';

const status = await runMsg(process.argv.slice(2));
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit(status);
