import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256, type Credentials } from '../../local/iam/signatures.ts';

/** What a raw request to the local cloud is: any method, path, headers and body, signed or not. */
export interface RawRequest {
  readonly method: string;
  /** The path as it goes on the wire, percent-encoding and query included. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Sends a request exactly as given (node's http, not fetch, which adds headers of its own), signed with SigV4 by the
 * AWS SDK's own signer when credentials are given; answers the status and the body.
 */
export async function sendRaw(endpoint: string, request: RawRequest, signing?: { credentials: Credentials; service: string }): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(endpoint);
  const [path, search = ''] = request.path.split('?') as [string, string?];
  let headers = { host: `${hostname}:${port}`, ...request.headers };
  if (signing) {
    const query = Object.fromEntries(new URLSearchParams(search));
    const unsigned = new HttpRequest({ method: request.method, protocol: 'http:', hostname, port: Number(port), path, query, headers, body: request.body });
    const signer = new SignatureV4({ credentials: signing.credentials, region: 'us-east-1', service: signing.service, sha256: Sha256 });
    headers = (await signer.sign(unsigned)).headers as typeof headers;
  }
  const { request: send } = await import('node:http');
  return new Promise((resolve, reject) => {
    const outgoing = send({ hostname, port, method: request.method, path: request.path, headers, setHost: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).once('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    outgoing.once('error', reject);
    outgoing.end(request.body);
  });
}
