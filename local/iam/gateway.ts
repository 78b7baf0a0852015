import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../emulators.ts';
import type { UsageMeter } from '../meter.ts';
import type { Authorizer } from './authorizer.ts';
import { accessKeyOf, dynamodbAuthorizations, dynamodbCall, parseJson, sqsAuthorizations, sqsCall, type ApiCall, type PartitionKeyOf } from './requests.ts';

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
  readonly #partitionKeyOf: PartitionKeyOf;

  /** @param partitionKeyOf - each table's partition key, known once the tables are created, for dynamodb:LeadingKeys */
  public constructor(service: GatewayService, upstream: string, authorizer: Authorizer, options: { meter?: UsageMeter; partitionKeyOf?: PartitionKeyOf } = {}) {
    this.#service = service;
    this.#upstream = new URL(upstream);
    this.#authorizer = authorizer;
    this.#meter = options.meter;
    this.#partitionKeyOf = options.partitionKeyOf ?? (() => undefined);
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
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      // Read whole, small as calls are: to decide on it, to count it, and to send it again on a stale connection.
      const body = Buffer.concat(chunks);
      const text = body.toString('utf8');
      const call = this.#service === 'sqs' ? sqsCall(request.headers, request.url, text) : dynamodbCall(request.headers, text);
      const accessKey = accessKeyOf(request.headers, request.url);
      if (this.#authorizer.checks(accessKey)) {
        const message = this.#authorizer.denial(accessKey, this.#service === 'sqs' ? sqsAuthorizations(call) : dynamodbAuthorizations(call, this.#partitionKeyOf));
        if (message) return accessDenied(this.#service, request.headers, response, message);
      }
      this.#forward(request, response, body, this.#meter ? this.#count(call) : undefined, true);
    } catch (error) {
      // A caller gone mid-request, or a call that is not what its service reads: it must not end the local cloud.
      if (response.headersSent || !response.socket || response.socket.destroyed) response.destroy();
      else response.writeHead(400, { 'content-type': 'text/plain' }).end(`the local cloud could not read this call: ${(error as Error).message}`);
    }
  }

  /**
   * Counts an allowed call as AWS would bill it: SQS by the request; DynamoDB by its answer, since it bills no units
   * for a call that fails (except a failed condition) and prices reads by what they return.
   */
  #count({ operation, input }: ApiCall): (status: number, answer: string) => void {
    if (this.#service === 'sqs') {
      this.#meter!.sqsRequest(operation);
      return () => undefined;
    }
    return (status, answer) => this.#meter!.dynamodbCall(operation, input, { status, body: parseJson(answer) });
  }

  /** Sends the call on to the emulator, unchanged, and its answer back; once more if a kept-alive connection was stale. */
  #forward(request: IncomingMessage, response: ServerResponse, body: Buffer, onAnswer: ((status: number, answer: string) => void) | undefined, retry: boolean): void {
    const forwarded = httpRequest(
      { hostname: this.#upstream.hostname, port: this.#upstream.port, method: request.method, path: request.url, headers: endToEnd(request.headers), agent: this.#agent },
      (upstream) => {
        response.writeHead(upstream.statusCode ?? 502, endToEnd(upstream.headers));
        if (onAnswer) {
          const chunks: Buffer[] = [];
          upstream.on('data', (chunk: Buffer) => chunks.push(chunk));
          upstream.once('end', () => onAnswer(upstream.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
        }
        pipeline(upstream, response, (error) => {
          if (error) response.destroy();
        });
      },
    );
    // A caller that gives up (an aborted long poll) ends the emulator's side of the call too.
    const abandon = () => {
      if (!response.writableFinished) forwarded.destroy();
    };
    response.once('close', abandon);
    forwarded.once('error', (error: NodeJS.ErrnoException) => {
      response.off('close', abandon);
      // Node's own advice: a request on a reused keep-alive socket that the server had just closed never reached it.
      if (retry && forwarded.reusedSocket && error.code === 'ECONNRESET' && !response.destroyed) return this.#forward(request, response, body, onAnswer, false);
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' }).end(`the local ${this.#service} emulator did not answer: ${error.message}`);
      else response.destroy();
    });
    forwarded.end(body);
  }
}

/** Connection-level headers belong to one hop; the gateway's own connections carry their own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
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
