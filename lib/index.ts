export * from './policy/index.ts';
export { Channel, type ChannelProps } from './constructs/channel.ts';
export { Responder, type ResponderProps } from './constructs/responder.ts';
export { StateTable, type StateTableProps } from './constructs/state-table.ts';
export { ConsumerFunction, type ConsumerFunctionProps } from './constructs/consumer-function.ts';
export { Operations, type OperationsProps } from './constructs/channel-alarms.ts';
export { BatchResponseGuard } from './constructs/batch-response-guard.ts';
export type { ChannelBaseProps } from './constructs/channel-base.ts';
export { DeliveryPoliciesStack, type DeliveryPoliciesStackProps } from './stacks/delivery-policies-stack.ts';
