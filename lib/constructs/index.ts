export { ChannelCatalog, type ChannelCatalogProps, type HandlerEntry } from './catalog.ts';
export { Channel, type ChannelProps, type StateAccess } from './channel.ts';
export { LifecycleTable, type LifecycleTableProps } from './lifecycle-table.ts';
export { Responder, type ResponderProps } from './responder.ts';
export { StateTable, type StateTableProps } from './state-table.ts';
export { ConsumerFunction, type ConsumerFunctionProps } from './consumer-function.ts';
export { Operations, type OperationsProps } from './channel-alarms.ts';
export { BatchResponseGuard } from './batch-response-guard.ts';
export type { ChannelBaseProps } from './channel-base.ts';
