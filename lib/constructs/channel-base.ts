import type { ChannelDefinition, Schema } from '../policy/index.ts';
import type { StateTable } from './state-table.ts';

/** What every channel construct needs: the channel as the catalog describes it, and where its state lives. */
export interface ChannelBaseProps {
  /** The channel: name, resolved policy and schema (defineChannel's result). */
  readonly definition: ChannelDefinition<Schema, Schema | undefined>;
  /** The table holding lifecycle records and the handlers' effects. */
  readonly stateTable: StateTable;
}
