import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TooManyRequestsError, type LocalFunction } from './local-function.ts';

/**
 * The Lambda Invoke API on loopback, so @aws-sdk/client-lambda and the AWS CLI work unchanged: RequestResponse
 * returns the result (or the error with X-Amz-Function-Error: Unhandled), Event answers 202 and runs the
 * function in the background, a busy function answers 429 TooManyRequestsException, an unknown one 404.
 */
export class InvokeApi {
  readonly #functions: ReadonlyMap<string, LocalFunction>;
  readonly #server: Server;
  readonly #background = new Set<Promise<unknown>>();

  public constructor(functions: ReadonlyMap<string, LocalFunction>) {
    this.#functions = functions;
    this.#server = createServer((request, response) => void this.#handle(request, response));
  }

  public async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} for the Lambda API is in use; stop what holds it or choose other ports`) : error),
      );
      this.#server.listen(port, '127.0.0.1', resolve);
    });
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  public async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await Promise.allSettled(this.#background);
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(request.url ?? '');
    if (request.method !== 'POST' || !match) {
      return reply(response, 404, { Type: 'User', message: `The local cloud serves only Invoke, not ${request.method} ${request.url}` }, 'ResourceNotFoundException');
    }
    const name = functionNameOf(decodeURIComponent(match[1]!));
    const fn = this.#functions.get(name);
    const body = await readBody(request);
    if (!fn) return reply(response, 404, { Type: 'User', message: `Function not found: ${name}` }, 'ResourceNotFoundException');
    let event: unknown;
    try {
      event = body.length === 0 ? {} : JSON.parse(body);
    } catch {
      return reply(response, 400, { Type: 'User', message: 'Could not parse request body into json' }, 'InvalidRequestContentException');
    }
    const invocationType = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (invocationType === 'DryRun') return reply(response, 204, undefined);
    if (fn.busyInstances >= fn.props.concurrencyLimit) {
      return reply(response, 429, { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', Type: 'User', message: 'Rate Exceeded.' }, 'TooManyRequestsException');
    }
    if (invocationType === 'Event') {
      const run = fn.invoke(event).catch(() => undefined);
      this.#background.add(run);
      void run.finally(() => this.#background.delete(run));
      return reply(response, 202, undefined);
    }
    try {
      const outcome = await fn.invoke(event);
      response.setHeader('X-Amz-Executed-Version', '$LATEST');
      response.setHeader('X-Amzn-RequestId', outcome.requestId);
      if (outcome.ok) return reply(response, 200, outcome.result);
      response.setHeader('X-Amz-Function-Error', 'Unhandled');
      return reply(response, 200, outcome.error);
    } catch (error) {
      if (error instanceof TooManyRequestsError) {
        return reply(response, 429, { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', Type: 'User', message: 'Rate Exceeded.' }, 'TooManyRequestsException');
      }
      return reply(response, 500, { Type: 'Service', message: (error as Error).message }, 'ServiceException');
    }
  }
}

/** Accepts a name, a partial ARN or a full ARN, with or without a qualifier, as Lambda does. */
function functionNameOf(identifier: string): string {
  const parts = identifier.split(':');
  const index = parts.indexOf('function');
  return index >= 0 ? parts[index + 1]! : parts[0]!;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function reply(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  if (errorType) response.setHeader('X-Amzn-ErrorType', errorType);
  if (body === undefined) {
    response.writeHead(status).end();
    return;
  }
  response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}
