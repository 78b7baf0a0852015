import { randomUUID } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../emulators.ts';
import type { UsageMeter } from '../meter.ts';
import type { Authorizer } from './authorizer.ts';
import { accessKeyOf, dynamodbAuthorizations, sqsAuthorizations } from './requests.ts';

export type GatewayService = 'sqs' | 'dynamodb';

/**
 * A service's endpoint with IAM in front: each call signed by a function is checked against the function's policies
 * and refused as AWS refuses it; every allowed or unchecked call goes on, unchanged, to the emulator behind. It holds
 * the endpoint everyone is given, so a queue URL handed to a function leads here too.
 */
export class IamGateway {
  readonly #service: GatewayService;
  readonly #upstream: URL;
  readonly #authorizer: Authorizer;
  readonly #server: Server;
  readonly #agent = new Agent({ keepAlive: true });
  readonly #meter: UsageMeter | undefined;

  public constructor(service: GatewayService, upstream: string, authorizer: Authorizer, meter?: UsageMeter) {
    this.#service = service;
    this.#upstream = new URL(upstream);
    this.#authorizer = authorizer;
    this.#meter = meter;
    this.#server = createServer((request, response) => void this.#handle(request, response));
  }

  public async listen(port = 0): Promise<string> {
    return `http://127.0.0.1:${await listenOnLoopback(this.#server, port, this.#service === 'sqs' ? 'the SQS emulator' : 'DynamoDB Local')}`;
  }

  public async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#agent.destroy();
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const accessKey = accessKeyOf(request.headers, request.url);
    const checked = this.#authorizer.checks(accessKey);
    // A call nobody checks or counts streams straight through; the others are read whole first.
    if (!checked && !this.#meter) return this.#forward(request, response, request);
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const text = body.toString('utf8');
    const counted = this.#meter ? this.#count(request, text) : undefined;
    if (!checked) return this.#forward(request, response, body, counted);
    const authorizations = this.#service === 'sqs' ? sqsAuthorizations(request.headers, request.url, text) : dynamodbAuthorizations(request.headers, text);
    const message = this.#authorizer.denial(accessKey, authorizations);
    if (message) return accessDenied(this.#service, request.headers, response, message);
    this.#forward(request, response, body, counted);
  }

  /**
   * Counts the call as AWS would bill it, whether or not it is then allowed: AWS bills a refused call too. A query or
   * a scan is billed by what it returns: for those, answers what to do with the answer.
   */
  #count(request: IncomingMessage, body: string): ((answer: string) => void) | undefined {
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target ? target.split('.').pop()! : (new URLSearchParams(body).get('Action') ?? 'unknown');
    if (this.#service === 'sqs') return void this.#meter!.sqsRequest(operation);
    const input = JSON.parse(body || '{}') as Record<string, unknown>;
    this.#meter!.dynamodbCall(operation, input);
    if (operation !== 'Query' && operation !== 'Scan') return undefined;
    return (answer) => {
      let items: unknown = [];
      try {
        items = (JSON.parse(answer) as { Items?: unknown }).Items ?? [];
      } catch {
        // An error answer, not JSON: billed as the minimum read.
      }
      this.#meter!.dynamodbItemsRead(items, input.ConsistentRead === true);
    };
  }

  /** Sends the call on to the emulator, unchanged, and its answer back. */
  #forward(request: IncomingMessage, response: ServerResponse, body: Buffer | IncomingMessage, onAnswer?: (answer: string) => void): void {
    const forwarded = httpRequest(
      { hostname: this.#upstream.hostname, port: this.#upstream.port, method: request.method, path: request.url, headers: request.headers, agent: this.#agent },
      (upstream) => {
        response.writeHead(upstream.statusCode ?? 502, upstream.headers);
        if (onAnswer) {
          const chunks: Buffer[] = [];
          upstream.on('data', (chunk: Buffer) => chunks.push(chunk));
          upstream.once('end', () => onAnswer(Buffer.concat(chunks).toString('utf8')));
        }
        upstream.pipe(response);
      },
    );
    // A caller that gives up (an aborted long poll) ends the emulator's side of the call too.
    response.once('close', () => {
      if (!response.writableFinished) forwarded.destroy();
    });
    forwarded.once('error', (error) => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' }).end(`the local ${this.#service} emulator did not answer: ${error.message}`);
      else response.destroy();
    });
    if (Buffer.isBuffer(body)) forwarded.end(body);
    else body.pipe(forwarded);
  }
}

/**
 * AccessDenied in the service's own protocol, so the SDK raises the error it raises in AWS: AccessDeniedException
 * from DynamoDB; AccessDenied from SQS (JSON with its query-compatible code header, or the query protocol's XML).
 */
function accessDenied(service: GatewayService, headers: IncomingHttpHeaders, response: ServerResponse, message: string): void {
  const requestId = randomUUID();
  const json = (extra: Record<string, string>): void => {
    response
      .writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId, ...extra })
      .end(JSON.stringify({ __type: 'com.amazon.coral.service#AccessDeniedException', message }));
  };
  if (service === 'dynamodb') return json({});
  if (String(headers['x-amz-target'] ?? '').startsWith('AmazonSQS.')) return json({ 'x-amzn-query-error': 'AccessDenied;Sender' });
  const escaped = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  response
    .writeHead(403, { 'content-type': 'text/xml' })
    .end(`<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${escaped}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`);
}
