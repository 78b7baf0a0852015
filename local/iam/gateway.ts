import { pipeline } from 'node:stream';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../emulators.ts';
import type { UsageMeter } from '../meter.ts';
import type { Authorizer } from './authorizer.ts';
import { admit, refuse } from '../door.ts';
import {
  canonicalCall,
  canonicalQueryCall,
  determined,
  dynamodbAuthorizations,
  parseJson,
  readCall,
  readQueryCall,
  snsAuthorizations,
  sqsAuthorizations,
  type ApiCall,
  type JsonService,
  type PartitionKeyOf,
} from './requests.ts';
import type { SignatureVerifier } from './signatures.ts';

export type GatewayService = JsonService | 'sns';

/**
 * The largest request each gateway reads: SQS's 1 MiB message and its batch, SNS's 256 KiB publish and its batch
 * form-encoded (up to three bytes a character), DynamoDB's 16 MB batch, with room.
 */
const MAX_BODY_BYTES: Record<GatewayService, number> = { sqs: 2 * 1024 * 1024, sns: 3 * 1024 * 1024, dynamodb: 17 * 1024 * 1024 };

/** What each gateway's service calls the resource a call must name, and a grant it lacks. */
const RESOURCE_NOUN: Record<GatewayService, string> = { sqs: 'queue', sns: 'topic', dynamodb: 'table' };
const DENIED_CODE: Record<GatewayService, string> = { sqs: 'AccessDenied', sns: 'AuthorizationError', dynamodb: 'AccessDenied' };
const EMULATOR_NAME: Record<GatewayService, string> = { sqs: 'the SQS emulator', sns: 'the SNS emulator', dynamodb: 'DynamoDB Local' };

export interface GatewayOptions {
  /** Where allowed calls are counted as AWS would bill them. */
  readonly meter?: UsageMeter;
  /** Each table's partition key, known once the tables are created, for dynamodb:LeadingKeys. */
  readonly partitionKeyOf?: PartitionKeyOf;
  /** Checks every request's signature; without it (IAM off, or a test of the authorizer alone), none is checked. */
  readonly verifier?: SignatureVerifier;
}

/**
 * A service's endpoint with IAM in front: every request passes the door (a loopback caller, no web page, a body
 * within limits, a valid signature), is read strictly, and a call signed by a function is checked against the
 * function's policies and refused as AWS refuses it; what is allowed goes on to the emulator behind as it was read and
 * authorized, written again. It holds the endpoint everyone is given, so a queue URL handed to a function leads here.
 */
export class IamGateway {
  readonly #service: GatewayService;
  readonly #upstream: URL;
  readonly #authorizer: Authorizer;
  readonly #server: Server;
  readonly #agent = new Agent({ keepAlive: true });
  readonly #meter: UsageMeter | undefined;
  readonly #partitionKeyOf: PartitionKeyOf;
  readonly #verifier: SignatureVerifier | undefined;
  #port = 0;

  public constructor(service: GatewayService, upstream: string, authorizer: Authorizer, options: GatewayOptions = {}) {
    this.#service = service;
    this.#upstream = new URL(upstream);
    this.#authorizer = authorizer;
    this.#meter = options.meter;
    this.#partitionKeyOf = options.partitionKeyOf ?? (() => undefined);
    this.#verifier = options.verifier;
    this.#server = createServer((request, response) => void this.#handle(request, response));
  }

  public async listen(port = 0): Promise<string> {
    this.#port = await listenOnLoopback(this.#server, port, EMULATOR_NAME[this.#service]);
    return `http://127.0.0.1:${this.#port}`;
  }

  public async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#agent.destroy();
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const admitted = await admit(request, response, { service: this.#service, port: () => this.#port, maxBodyBytes: MAX_BODY_BYTES[this.#service], verifier: this.#verifier });
      if (!admitted) return;
      const body = admitted.body.toString('utf8');
      const call = this.#service === 'sns' ? readQueryCall(request.method, request.url, request.headers, body) : readCall(this.#service, request.method, request.url, request.headers, body);
      if ('refused' in call) return refuse(this.#service, request, response, { status: 400, code: call.code, message: call.refused });
      if (this.#authorizer.checks(admitted.accessKey)) {
        const authorizations = this.#authorizations(call);
        const denied = { status: 403, code: DENIED_CODE[this.#service] };
        if (!determined(this.#service, call.operation, authorizations)) {
          return refuse(this.#service, request, response, { ...denied, message: `${call.operation} names no ${RESOURCE_NOUN[this.#service]} the local cloud can authorize it on` });
        }
        const message = this.#authorizer.denial(admitted.accessKey, authorizations);
        if (message) return refuse(this.#service, request, response, { ...denied, message });
      }
      const forwarded = this.#service === 'sns' ? canonicalQueryCall(call) : canonicalCall(this.#service, call);
      this.#forward(request, response, { ...forwarded, headers: { ...forwarded.headers, ...signatureHeaders(request.headers) } }, this.#meter ? this.#count(call) : undefined, true);
    } catch (error) {
      // A caller gone mid-request, or a call that is not what its service reads: it must not end the local cloud.
      if (response.headersSent || !response.socket || response.socket.destroyed) response.destroy();
      else refuse(this.#service, request, response, { status: 400, code: 'ValidationException', message: `the local cloud could not read this call: ${(error as Error).message}` });
    }
  }

  #authorizations(call: ApiCall) {
    if (this.#service === 'sqs') return sqsAuthorizations(call);
    if (this.#service === 'sns') return snsAuthorizations(call);
    return dynamodbAuthorizations(call, this.#partitionKeyOf);
  }

  /**
   * Counts an allowed call as AWS would bill it: SQS by the request; SNS by the message published; DynamoDB by its
   * answer, since it bills no units for a call that fails (except a failed condition) and prices reads by what they return.
   */
  #count({ operation, input }: ApiCall): (status: number, answer: string) => void {
    if (this.#service === 'sqs') {
      this.#meter!.sqsRequest(operation);
      return () => undefined;
    }
    if (this.#service === 'sns') {
      // Billed once SNS has taken it: each message of a batch, by its size.
      return (status) => {
        if (status < 300 && (operation === 'Publish' || operation === 'PublishBatch')) this.#meter!.snsPublish(publishedBytes(operation, input));
      };
    }
    return (status, answer) => this.#meter!.dynamodbCall(operation, input, { status, body: parseJson(answer) });
  }

  /** Sends the call on to the emulator and its answer back; once more if a kept-alive connection was stale. */
  #forward(request: IncomingMessage, response: ServerResponse, call: { headers: Record<string, string>; body: string }, onAnswer: ((status: number, answer: string) => void) | undefined, retry: boolean): void {
    const body = Buffer.from(call.body);
    const forwarded = httpRequest(
      { hostname: this.#upstream.hostname, port: this.#upstream.port, method: 'POST', path: '/', headers: { ...call.headers, 'content-length': String(body.length) }, agent: this.#agent },
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
      if (retry && forwarded.reusedSocket && error.code === 'ECONNRESET' && !response.destroyed) return this.#forward(request, response, call, onAnswer, false);
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' }).end(`the local ${this.#service} emulator did not answer: ${error.message}`);
      else response.destroy();
    });
    forwarded.end(body);
  }
}

/** The size of each message a Publish or PublishBatch carries, its attributes' names, types and values included. */
function publishedBytes(operation: string, input: Record<string, unknown>): number[] {
  const prefixes = operation === 'Publish' ? [''] : Object.keys(input).flatMap((name) => /^PublishBatchRequestEntries\.member\.\d+\.Id$/.test(name) ? [name.replace(/Id$/, '')] : []);
  return prefixes.map((prefix) =>
    Object.entries(input)
      .filter(([name]) => name === `${prefix}Message` || name.startsWith(`${prefix}MessageAttributes.`))
      .reduce((total, [name, value]) => total + (name.endsWith('.Name') || name.endsWith('.DataType') || name.endsWith('.StringValue') || name === `${prefix}Message` ? Buffer.byteLength(String(value)) : 0), 0),
  );
}

/** The caller's signature goes on with the call: DynamoDB Local reads its region and key (and checks nothing of it). */
function signatureHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(['authorization', 'x-amz-date'].flatMap((name) => (typeof headers[name] === 'string' ? [[name, headers[name] as string]] : [])));
}

/** Connection-level headers belong to one hop; the gateway's own connections carry their own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));
}
