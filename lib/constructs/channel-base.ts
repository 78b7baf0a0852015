import type { z } from 'zod';
import type { ChannelDefinition } from '../policy/index.ts';
import type { StateTable } from './state-table.ts';

/** What every channel construct needs: the channel as the catalog describes it, and where its state lives. */
export interface ChannelBaseProps {
  /** The channel: name, resolved policy and schema (see lib/channels.ts). */
  readonly definition: ChannelDefinition<z.ZodType, z.ZodType | undefined>;
  /** The table holding lifecycle records and the handlers' effects. */
  readonly stateTable: StateTable;
}
