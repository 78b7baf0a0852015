import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LOCAL_REGION } from './emulators.ts';
import type { Credentials } from './iam/signatures.ts';
import type { IntrinsicResolver, ResourceAttributes } from './intrinsics.ts';
import { functionArn } from './intrinsics.ts';
import { LocalFunction } from './local-function.ts';
import type { UsageMeter } from './meter.ts';
import type { CollectedSpan } from './span-collector.ts';
import { physicalName } from './provision.ts';
import type { SynthesizedStack, TemplateResource } from './template.ts';

/** Lambda's default per-function limit is the account's 1,000; locally each instance is a thread, so fewer. */
export const LOCAL_FUNCTION_CONCURRENCY = 10;

export interface LocalEndpoints {
  readonly sqs: string;
  readonly sns: string;
  readonly dynamodb: string;
  readonly lambda: string;
}

/** A function the local cloud cannot run, and why; an error only if something needs it. */
export interface SkippedFunction {
  readonly logicalId: string;
  readonly reason: string;
}

/** Builds a LocalFunction for every Node.js function whose bundle is in the cloud assembly. */
export function buildFunctions(
  stack: SynthesizedStack,
  resolver: IntrinsicResolver,
  built: Map<string, ResourceAttributes>,
  endpoints: LocalEndpoints,
  options: { showLogs: boolean; meter?: UsageMeter; credentialsOf: (functionName: string) => Credentials; onSpans?: (spans: readonly CollectedSpan[]) => void },
): { functions: Map<string, LocalFunction>; skipped: SkippedFunction[] } {
  const functions = new Map<string, LocalFunction>();
  const skipped: SkippedFunction[] = [];
  for (const [logicalId, resource] of Object.entries(stack.resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const properties = resource.Properties ?? {};
    const name = functionName(stack, logicalId, resource);
    built.set(logicalId, { ref: name, attributes: { Arn: functionArn(name) } });
    const module = entryModule(stack, resource);
    if (typeof module === 'string') {
      skipped.push({ logicalId, reason: module });
      continue;
    }
    const where = `${logicalId}.Environment`;
    const variables = resolver.resolve((properties.Environment as { Variables?: unknown } | undefined)?.Variables ?? {}, where) as Record<string, unknown>;
    const timeoutSeconds = Number(properties.Timeout ?? 3);
    const memorySizeMb = Number(properties.MemorySize ?? 128);
    functions.set(
      name,
      new LocalFunction({
        name,
        logicalId,
        modulePath: module.path,
        exportName: module.exportName,
        timeoutSeconds,
        memorySizeMb,
        concurrencyLimit: Number(properties.ReservedConcurrentExecutions ?? LOCAL_FUNCTION_CONCURRENCY),
        showLogs: options.showLogs,
        ...(options.meter ? { meter: options.meter } : {}),
        ...(options.onSpans ? { onSpans: options.onSpans } : {}),
        runtime: String(properties.Runtime),
        handler: String(properties.Handler ?? 'index.handler'),
        architecture: String((properties.Architectures as string[] | undefined)?.[0] ?? 'x86_64'),
        environment: {
          ...Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, String(value)])),
          AWS_REGION: LOCAL_REGION,
          AWS_DEFAULT_REGION: LOCAL_REGION,
          // The function's own credentials: its calls are checked as its role's, and it can sign as no one else.
          AWS_ACCESS_KEY_ID: options.credentialsOf(name).accessKeyId,
          AWS_SECRET_ACCESS_KEY: options.credentialsOf(name).secretAccessKey,
          AWS_ENDPOINT_URL_SQS: endpoints.sqs,
          AWS_ENDPOINT_URL_SNS: endpoints.sns,
          AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
          AWS_ENDPOINT_URL_LAMBDA: endpoints.lambda,
          AWS_LAMBDA_FUNCTION_NAME: name,
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memorySizeMb),
          AWS_LAMBDA_FUNCTION_TIMEOUT: String(timeoutSeconds),
          AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
          PATH: process.env.PATH ?? '',
        },
      }),
    );
  }
  return { functions, skipped };
}

/**
 * An app synthesized without asset metadata (e.g. `new App()` in a test) still names its asset by hash in the
 * S3 key, and the assembly keeps the bundle in asset.<hash>.
 */
function assetDirFromKey(stack: SynthesizedStack, resource: TemplateResource): string | undefined {
  const key = (resource.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key;
  const hash = typeof key === 'string' ? /^([0-9a-f]{64})\.zip$/.exec(key)?.[1] : undefined;
  return hash && existsSync(join(stack.assemblyDir, `asset.${hash}`)) ? `asset.${hash}` : undefined;
}

/** The function's name: its FunctionName, or the one CloudFormation would make up. */
export function functionName(stack: SynthesizedStack, logicalId: string, resource: TemplateResource): string {
  const given = resource.Properties?.FunctionName;
  return typeof given === 'string' ? given : physicalName(stack.name, logicalId).slice(0, 64);
}

/** The bundle's module and export named by Handler ("index.handler" → <asset>/index.mjs, export handler). */
export function entryModule(stack: SynthesizedStack, resource: TemplateResource): { path: string; exportName: string } | string {
  const runtime = String(resource.Properties?.Runtime ?? '');
  if (!runtime.startsWith('nodejs')) return `runtime ${runtime || '(container image)'} is not run locally; only Node.js functions are`;
  const assetPath = resource.Metadata?.['aws:asset:path'] ?? assetDirFromKey(stack, resource);
  if (typeof assetPath !== 'string') return 'its code is not a bundled asset in the cloud assembly (inline or external code)';
  const handler = String(resource.Properties?.Handler ?? 'index.handler');
  const dot = handler.lastIndexOf('.');
  const base = join(stack.assemblyDir, assetPath, handler.slice(0, dot));
  const path = ['.mjs', '.js', '.cjs'].map((extension) => base + extension).find((candidate) => existsSync(candidate));
  if (!path) return `its handler module ${handler.slice(0, dot)} is not in ${assetPath}`;
  return { path, exportName: handler.slice(dot + 1) };
}
