import { chaosLedger } from './channels.ts';
import { countingConsumer } from './effects.ts';

/** The flow's last hop: the effect is the count alone, under the same faults. */
export const handler = countingConsumer(chaosLedger);
