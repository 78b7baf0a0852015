import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SignatureVerifier } from './iam/signatures.ts';

/** The services the local cloud answers for, each refusing a call in its own protocol. */
export type DoorService = 'sqs' | 'sns' | 'dynamodb' | 'lambda';

export interface DoorOptions {
  readonly service: DoorService;
  /** The port the server listens on: the Host a caller on this machine sends. */
  readonly port: () => number;
  /** The largest body read; a larger one is refused while it is read, not after. */
  readonly maxBodyBytes: number;
  /** Checks each request's signature; without it (IAM off), any caller on this machine is let in. */
  readonly verifier?: SignatureVerifier;
}

/** A call let in: its body, and the access key whose secret signed it (none when signatures are not checked). */
export interface Admitted {
  readonly body: Buffer;
  readonly accessKey?: string;
}

/** A refusal, as the service's own protocol words one. */
export interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/**
 * What every request meets before the local cloud reads it: it must come from this machine (a loopback Host, so a
 * web page cannot reach it by rebinding a name to 127.0.0.1), not from a web page (no Origin or Sec-Fetch-Site,
 * which browsers send and the AWS SDKs and CLIs do not), carry a body within limits (refused as it is read), and be
 * signed by a key the local cloud gave out. A refused request is answered here and undefined returned.
 */
export async function admit(request: IncomingMessage, response: ServerResponse, door: DoorOptions): Promise<Admitted | undefined> {
  const host = String(request.headers.host ?? '');
  if (!loopbackHosts(door.port()).includes(host.toLowerCase())) {
    return void refuse(door.service, request, response, { status: 403, code: 'AccessDenied', message: `the local cloud answers only on this machine's loopback address, not for the host "${host.slice(0, 100)}"` });
  }
  if (request.headers.origin !== undefined || request.headers['sec-fetch-site'] !== undefined) {
    return void refuse(door.service, request, response, { status: 403, code: 'AccessDenied', message: 'the local cloud does not answer web pages: call it with an AWS SDK or CLI' });
  }
  const body = await readBody(request, door.maxBodyBytes);
  if (body === undefined) {
    const code = door.service === 'lambda' ? 'RequestEntityTooLargeException' : 'RequestEntityTooLarge';
    return void refuse(door.service, request, response, { status: 413, code, message: `the request is larger than the ${door.maxBodyBytes} bytes this service takes` });
  }
  if (!door.verifier) return { body };
  const checked = await door.verifier.verify({ method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers }, body);
  if ('refused' in checked) {
    const code = checked.refused === 'unknown-key' ? unknownKeyCode[door.service] : badSignatureCode[door.service];
    return void refuse(door.service, request, response, { status: 403, code, message: checked.why });
  }
  return { body, accessKey: checked.accessKey };
}

const unknownKeyCode: Record<DoorService, string> = { sqs: 'InvalidClientTokenId', sns: 'InvalidClientTokenId', dynamodb: 'UnrecognizedClientException', lambda: 'UnrecognizedClientException' };
const badSignatureCode: Record<DoorService, string> = { sqs: 'SignatureDoesNotMatch', sns: 'SignatureDoesNotMatch', dynamodb: 'InvalidSignatureException', lambda: 'InvalidSignatureException' };

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (character) => `&#${character.charCodeAt(0)};`);
}

function loopbackHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
}

/** The body, read up to `limit` bytes; undefined past it, the rest left unread (the connection closes after the refusal). */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(request.headers['content-length'] ?? 0) > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      request.off('data', onData).pause();
      resolve(undefined);
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

/**
 * Answers a refusal in the service's protocol, so the AWS SDK raises the error it raises in AWS: DynamoDB's and SQS's
 * JSON (SQS with its query-compatible code header), Lambda's REST error with X-Amzn-ErrorType. The connection closes
 * after it: what is left of a refused body is not read.
 */
export function refuse(service: DoorService, request: IncomingMessage, response: ServerResponse, refusal: Refusal): void {
  if (response.headersSent) return void response.destroy();
  const requestId = randomUUID();
  response.setHeader('connection', 'close');
  if (service === 'lambda') {
    response
      .writeHead(refusal.status, { 'content-type': 'application/json', 'x-amzn-errortype': refusal.code, 'x-amzn-requestid': requestId })
      .end(JSON.stringify({ Type: 'User', message: refusal.message }));
  } else if (service === 'sns') {
    // SNS's query protocol answers errors in XML.
    response
      .writeHead(refusal.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId })
      .end(`<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>${refusal.code}</Code><Message>${escapeXml(refusal.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`);
  } else if (service === 'dynamodb') {
    // DynamoDB answers 400 to what it refuses, AccessDenied and bad signatures included.
    response
      .writeHead(refusal.status === 413 ? 413 : 400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId })
      .end(JSON.stringify({ __type: `com.amazon.coral.service#${refusal.code === 'AccessDenied' ? 'AccessDeniedException' : refusal.code}`, message: refusal.message }));
  } else {
    response
      .writeHead(refusal.status === 403 && refusal.code === 'AccessDenied' ? 400 : refusal.status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': requestId,
        'x-amzn-query-error': `${refusal.code};Sender`,
      })
      .end(JSON.stringify({ __type: `com.amazonaws.sqs#${refusal.code}`, message: refusal.message }));
  }
  // A body left unread (refused before or while it was read) is not read on: the connection ends with the answer.
  response.once('finish', () => {
    if (!request.complete) request.destroy();
  });
}
