import { App, Stack, type AppProps } from 'aws-cdk-lib';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Template } from 'aws-cdk-lib/assertions';
import { z } from 'zod';
import { Channel, type StateAccess } from '../../lib/constructs/channel.ts';
import { LifecycleTable } from '../../lib/constructs/lifecycle-table.ts';
import { Responder } from '../../lib/constructs/responder.ts';
import { StateTable } from '../../lib/constructs/state-table.ts';
import { defineChannel, type PolicyInput } from '../../lib/policy/index.ts';

/** The feature flags `cdk init` writes into a new app's cdk.json: aws-cdk-lib's recommended values. */
export const RECOMMENDED_FLAGS: Readonly<Record<string, unknown>> = createRequire(import.meta.url)('aws-cdk-lib/recommended-feature-flags.json');

export const ordersEntry = new URL('../../functions/orders/index.ts', import.meta.url).pathname;
export const quotesPrimaryEntry = new URL('../../functions/quotes/primary.ts', import.meta.url).pathname;
export const quotesFallbackEntry = new URL('../../functions/quotes/fallback.ts', import.meta.url).pathname;

/** CDK's feature flags as cdk.json sets them (the CLI passes them to the app; an App made in a test reads no cdk.json). */
export const FEATURE_FLAGS: Readonly<Record<string, unknown>> = Object.fromEntries(
  Object.entries((JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }).context).filter(([key]) =>
    Object.hasOwn(RECOMMENDED_FLAGS, key),
  ),
);

/**
 * An app whose stacks synthesize without bundling their functions' code (CDK's bundling-stacks context): these suites
 * assert on templates, and bundling ran esbuild once per function, 40 times a run. The local cloud's and the package's
 * suites bundle for real. (CDK's built-in validation is off for the whole run: see test/setup/global.ts.)
 */
export const templateApp = (props: AppProps = {}) =>
  new App({
    ...props,
    // In-memory mode puts a failed validation's report in the error the tests match on, whatever NODE_ENV is.
    context: { ...FEATURE_FLAGS, ...props.context, 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:appMode': 'inmemory' },
  });

/** GIVEN a stack holding one channel with this policy. */
export function channelStack(name: string, policy: PolicyInput, stateAccess?: StateAccess) {
  const stack = new Stack(templateApp(), 'Test');
  const stateTable = new StateTable(stack, 'State');
  const definition = defineChannel(name, { policy, schema: z.object({ id: z.string() }) });
  const channel = new Channel(stack, 'Channel', { definition, stateTable, lifecycleTable: new LifecycleTable(stack, 'Lifecycle'), entry: ordersEntry, stateAccess });
  return { stack, channel, template: Template.fromStack(stack) };
}

export function responderStack(name: string, policy: PolicyInput, entries: { fallback?: boolean } = { fallback: true }) {
  const stack = new Stack(templateApp(), 'Test');
  const stateTable = new StateTable(stack, 'State');
  const definition = defineChannel(name, { policy, schema: z.object({ id: z.string() }), replySchema: z.object({ ok: z.boolean() }) });
  const responder = new Responder(stack, 'Responder', {
    definition,
    stateTable,
    primaryEntry: quotesPrimaryEntry,
    fallbackEntry: entries.fallback ? quotesFallbackEntry : undefined,
  });
  return { stack, responder, template: Template.fromStack(stack) };
}
