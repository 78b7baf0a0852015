import { chaosTransactional } from './channels.ts';
import { countingConsumer } from './effects.ts';

/** The effect is the count alone. */
export const handler = countingConsumer(chaosTransactional);
