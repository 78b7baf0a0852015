import { chaosShipping } from './channels.ts';
import { outsideConsumer } from './outside.ts';

/** The flow's outside-effect subscriber: its applications are counted apart from the transactional subscriber's. */
export const handler = outsideConsumer(chaosShipping, (id) => `shipped-${id}`);
