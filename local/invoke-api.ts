import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { listenOnLoopback } from './emulators.ts';
import type { Authorizer } from './iam/authorizer.ts';
import { admit } from './door.ts';
import type { SignatureVerifier } from './iam/signatures.ts';
import { functionArn } from './intrinsics.ts';
import { TooManyRequestsError, type LocalFunction } from './local-function.ts';
import type { SqsEventSource } from './sqs-event-source.ts';

/** Lambda's limits on an invocation's payload: 6 MB both ways for RequestResponse, 1 MB for an Event (since 2025). */
const MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
const MAX_EVENT_PAYLOAD_BYTES = 1024 * 1024;
/**
 * Lambda retries a failed Event invocation twice, about 1 and 2 minutes later; here 1 and 2 seconds later (60 times
 * sooner), so that a test or a developer sees the retries happen.
 */
const EVENT_RETRY_DELAYS_MS = [1000, 2000];

/**
 * The Lambda API on loopback, so @aws-sdk/client-lambda and the AWS CLI work unchanged. Invoke: RequestResponse
 * returns the result (or the error with X-Amz-Function-Error: Unhandled), a busy function answers it 429
 * TooManyRequestsException; Event answers 202 at once, queues the invocation and retries it on a function error;
 * payloads over Lambda's limits are refused; an unknown function is 404. And what
 * tooling reads to discover what runs: ListFunctions, GetFunction, GetFunctionConfiguration,
 * ListEventSourceMappings.
 */
export class InvokeApi {
  readonly #functions: ReadonlyMap<string, LocalFunction>;
  readonly #mappings: readonly SqsEventSource[];
  readonly #server: Server;
  readonly #background = new Set<Promise<unknown>>();
  /** Ends the waits of queued and retried Event invocations when the cloud stops. */
  readonly #closing = new AbortController();
  /** Checks the calls functions make, when IAM is enforced. */
  readonly #authorizer: Authorizer | undefined;
  /** Checks every request's signature, when IAM is enforced. */
  readonly #verifier: SignatureVerifier | undefined;
  #port = 0;

  public constructor(functions: ReadonlyMap<string, LocalFunction>, mappings: readonly SqsEventSource[], iam?: { authorizer: Authorizer; verifier: SignatureVerifier }) {
    this.#functions = functions;
    this.#mappings = mappings;
    this.#authorizer = iam?.authorizer;
    this.#verifier = iam?.verifier;
    this.#server = createServer((request, response) => void this.#handle(request, response));
  }

  public async listen(port = 0): Promise<string> {
    this.#port = await listenOnLoopback(this.#server, port, 'the Lambda API');
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Event invocations accepted and not yet done: waiting for an instance, running, or waiting to be retried. */
  public get pendingEvents(): number {
    return this.#background.size;
  }

  public async close(): Promise<void> {
    this.#closing.abort();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await Promise.allSettled(this.#background);
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const admitted = await admit(request, response, { service: 'lambda', port: () => this.#port, maxBodyBytes: MAX_SYNC_PAYLOAD_BYTES, verifier: this.#verifier });
      if (!admitted) return;
      if (request.method === 'GET') return this.#read(request, response, admitted.accessKey);
      const match = /^\/2015-03-31\/functions\/([^/?]+)\/invocations(?:\?|$)/.exec(request.url ?? '');
      if (request.method !== 'POST' || !match) {
        return reply(response, 404, { Type: 'User', message: `The local cloud does not serve ${request.method} ${String(request.url).slice(0, 200)}` }, 'ResourceNotFoundException');
      }
      const identifier = decoded(match[1]!);
      if (identifier === undefined) return reply(response, 400, { Type: 'User', message: 'The function name is not a valid percent-encoded name' }, 'InvalidParameterValueException');
      const name = functionNameOf(identifier);
      if (this.#denied(response, admitted.accessKey, 'lambda:InvokeFunction', qualifiedArn(identifier, request.url))) return;
      const fn = this.#functions.get(name);
      if (!fn) return notFound(response, name);
      const body = admitted.body.toString('utf8');
      let event: unknown;
      try {
        event = body.length === 0 ? {} : JSON.parse(body);
      } catch {
        return reply(response, 400, { Type: 'User', message: 'Could not parse request body into json' }, 'InvalidRequestContentException');
      }
      const invocationType = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
      if (!['RequestResponse', 'Event', 'DryRun'].includes(invocationType)) {
        return reply(response, 400, { Type: 'User', message: `InvocationType ${invocationType.slice(0, 50)} is not RequestResponse, Event or DryRun` }, 'InvalidParameterValueException');
      }
      if (invocationType === 'Event' && admitted.body.length > MAX_EVENT_PAYLOAD_BYTES) {
        return reply(response, 413, { Type: 'User', message: `Request must be smaller than ${MAX_EVENT_PAYLOAD_BYTES} bytes for the InvokeFunction operation` }, 'RequestEntityTooLargeException');
      }
      if (invocationType === 'DryRun') return reply(response, 204, undefined);
      const clientContext = clientContextOf(request.headers['x-amz-client-context']);
      if (clientContext === INVALID) return reply(response, 400, { Type: 'User', message: 'Client context must be a valid Base64-encoded JSON object.' }, 'InvalidParameterValueException');
      if (invocationType === 'Event') {
        // Lambda queues an Event invocation whatever its function is doing; it never answers one with 429.
        const run = this.#runEvent(fn, event);
        this.#background.add(run);
        void run.finally(() => this.#background.delete(run));
        return reply(response, 202, undefined);
      }
      return await this.#invoke(fn, event, response, clientContext);
    } catch (error) {
      // Whatever a request does, the local cloud keeps serving: it answers a 500 if it still can.
      if (response.headersSent) return void response.destroy();
      return reply(response, 500, { Type: 'Service', message: (error as Error).message }, 'ServiceException');
    }
  }

  /** A RequestResponse invocation: the result, the function's error, or 429 when every instance is busy. */
  async #invoke(fn: LocalFunction, event: unknown, response: ServerResponse, clientContext: unknown): Promise<void> {
    try {
      const outcome = await fn.invoke(event, clientContext);
      response.setHeader('X-Amz-Executed-Version', '$LATEST');
      response.setHeader('X-Amzn-RequestId', outcome.requestId);
      if (outcome.ok && Buffer.byteLength(JSON.stringify(outcome.result ?? null)) > MAX_SYNC_PAYLOAD_BYTES) {
        response.setHeader('X-Amz-Function-Error', 'Unhandled');
        return reply(response, 200, { errorType: 'Function.ResponseSizeTooLarge', errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_SYNC_PAYLOAD_BYTES} bytes).` });
      }
      if (outcome.ok) return reply(response, 200, outcome.result);
      response.setHeader('X-Amz-Function-Error', 'Unhandled');
      return reply(response, 200, outcome.error);
    } catch (error) {
      if (error instanceof TooManyRequestsError) {
        return reply(response, 429, { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', Type: 'User', message: 'Rate Exceeded.' }, 'TooManyRequestsException');
      }
      throw error;
    }
  }

  /**
   * An Event invocation as Lambda's internal queue runs it: when an instance is free, and again after a function
   * error, twice (EVENT_RETRY_DELAYS_MS). Waits end when the cloud stops.
   */
  async #runEvent(fn: LocalFunction, event: unknown): Promise<void> {
    const signal = this.#closing.signal;
    for (let retry = 0; !signal.aborted; ) {
      const outcome = await fn.invoke(event).catch((error: unknown) => (error instanceof TooManyRequestsError ? 'busy' : 'stopped'));
      if (outcome === 'busy') {
        // Every instance is busy: Lambda's queue holds the event until one is free.
        await sleep(25, undefined, { signal }).catch(() => undefined);
        continue;
      }
      if (outcome === 'stopped' || outcome.ok || retry >= EVENT_RETRY_DELAYS_MS.length) return;
      await sleep(EVENT_RETRY_DELAYS_MS[retry++]!, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Answers AccessDenied, as Lambda does, when the caller is a function whose role may not do this; says whether it did. */
  #denied(response: ServerResponse, accessKey: string | undefined, action: string, resource: string): boolean {
    const message = this.#authorizer?.denial(accessKey, [{ action, resource }]);
    if (message) reply(response, 403, { Type: 'User', message }, 'AccessDeniedException');
    return message !== undefined;
  }

  /** The read-only calls, all of one page: the local cloud runs a handful of functions. */
  #read(request: IncomingMessage, response: ServerResponse, accessKey: string | undefined): void {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/$/, '');
    if (path === '/2015-03-31/functions') {
      if (this.#denied(response, accessKey, 'lambda:ListFunctions', '*')) return;
      return reply(response, 200, { Functions: [...this.#functions.values()].map(configurationOf) });
    }
    if (path === '/2015-03-31/event-source-mappings') {
      if (this.#denied(response, accessKey, 'lambda:ListEventSourceMappings', '*')) return;
      const only = url.searchParams.get('FunctionName');
      const mappings = this.#mappings.filter((mapping) => !only || mapping.functionName === functionNameOf(only));
      return reply(response, 200, { EventSourceMappings: mappings.map((mapping) => mapping.describe()) });
    }
    const match = /^\/2015-03-31\/functions\/([^/]+)(\/configuration)?$/.exec(path);
    const identifier = match ? decoded(match[1]!) : undefined;
    if (!match || identifier === undefined) return reply(response, 404, { Type: 'User', message: `The local cloud does not serve GET ${String(request.url).slice(0, 200)}` }, 'ResourceNotFoundException');
    const name = functionNameOf(identifier);
    const fn = this.#functions.get(name);
    if (this.#denied(response, accessKey, match[2] ? 'lambda:GetFunctionConfiguration' : 'lambda:GetFunction', functionArn(name))) return;
    if (!fn) return notFound(response, name);
    if (match[2]) return reply(response, 200, configurationOf(fn));
    return reply(response, 200, { Configuration: configurationOf(fn), Code: { RepositoryType: 'S3', Location: pathToFileURL(fn.modulePath).href } });
  }
}

/** GetFunction's answer for a function, its Configuration as GetFunctionConfiguration and ListFunctions give it. */
function configurationOf(fn: LocalFunction) {
  const { environment } = fn.props;
  // The variables the local cloud itself sets (endpoints, credentials) are not the function's configuration.
  const variables = Object.fromEntries(Object.entries(environment).filter(([key]) => !/^(AWS_|PATH$)/.test(key)));
  return {
    FunctionName: fn.props.name,
    FunctionArn: functionArn(fn.props.name),
    Runtime: fn.props.runtime,
    Handler: fn.props.handler,
    Architectures: [fn.props.architecture],
    Timeout: fn.props.timeoutSeconds,
    MemorySize: fn.props.memorySizeMb,
    Environment: { Variables: variables },
    PackageType: 'Zip',
    State: 'Active',
    LastUpdateStatus: 'Successful',
    Version: '$LATEST',
  };
}

/**
 * The ARN IAM checks an invocation against: with its qualifier (an alias or version, in the name or as ?Qualifier=),
 * since a grant on the unqualified ARN does not cover a qualified one.
 */
function qualifiedArn(identifier: string, url: string | undefined): string {
  const { name, qualifier = new URL(url ?? '/', 'http://localhost').searchParams.get('Qualifier') } = parseFunctionIdentifier(identifier);
  return `${functionArn(name)}${qualifier ? `:${qualifier}` : ''}`;
}

function functionNameOf(identifier: string): string {
  return parseFunctionIdentifier(identifier).name;
}

/** Accepts a name, a partial ARN or a full ARN, with or without a qualifier, as Lambda does. */
function parseFunctionIdentifier(identifier: string): { name: string; qualifier?: string } {
  const parts = identifier.split(':');
  const index = parts.indexOf('function');
  const [name, qualifier] = index >= 0 ? [parts[index + 1]!, parts[index + 2]] : [parts[0]!, parts[1]];
  return qualifier === undefined ? { name } : { name, qualifier };
}

function notFound(response: ServerResponse, name: string): void {
  reply(response, 404, { Type: 'User', message: `Function not found: ${functionArn(name)}` }, 'ResourceNotFoundException');
}

const INVALID = Symbol('invalid');

/** X-Amz-Client-Context: base64 JSON, handed to a synchronous invocation's context as Lambda does; INVALID if it is not. */
function clientContextOf(header: string | string[] | undefined): unknown {
  if (typeof header !== 'string') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as unknown;
    return parsed !== null && typeof parsed === 'object' ? parsed : INVALID;
  } catch {
    return INVALID;
  }
}

/** A percent-encoded path segment decoded, or undefined when it is not valid percent-encoding (%E0%A4%A once crashed the cloud). */
function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function reply(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  if (errorType) response.setHeader('X-Amzn-ErrorType', errorType);
  if (body === undefined) {
    response.writeHead(status).end();
    return;
  }
  response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}
