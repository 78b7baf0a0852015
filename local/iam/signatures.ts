import { createHash, createHmac, timingSafeEqual, type BinaryLike } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/** A caller's credentials, as the local cloud hands them out: to the developer, and one pair per function. */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** What a signature check found: the access key whose secret signed the request, or why it was refused. */
export type SignatureCheck = { readonly accessKey: string } | { readonly refused: 'unknown-key' | 'bad-signature'; readonly why: string };

/** SigV4's parts of an Authorization header. */
const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
/** How far a request's time may be from now, as AWS allows. */
const MAX_SKEW_MS = 15 * 60 * 1000;

/**
 * SigV4, verified: a request is recomputed with the secret of the key it names, by the same signer the AWS SDK uses
 * (@smithy/signature-v4), and its signature must match. So a caller is who signs, not who names a key: a function's
 * code, which knows only its own secret, cannot act as another function or as the developer.
 */
export class SignatureVerifier {
  readonly #secrets = new Map<string, string>();

  /** Accepts requests signed with these credentials from now on. */
  public allow(...credentials: readonly Credentials[]): void {
    for (const pair of credentials) this.#secrets.set(pair.accessKeyId, pair.secretAccessKey);
  }

  public async verify(request: { readonly method: string; readonly url: string; readonly headers: IncomingHttpHeaders }, body: Buffer): Promise<SignatureCheck> {
    const authorization = String(request.headers.authorization ?? '');
    const parts = AUTHORIZATION.exec(authorization);
    if (!parts) return { refused: 'bad-signature', why: 'the request is not signed with AWS Signature Version 4' };
    const [, accessKey, , region, service, signedList, signature] = parts as unknown as [string, string, string, string, string, string, string];
    const secret = this.#secrets.get(accessKey);
    if (secret === undefined) return { refused: 'unknown-key', why: `the access key ${accessKey} is not one the local cloud gave out` };
    const amzDate = String(request.headers['x-amz-date'] ?? '');
    const signedAt = parseAmzDate(amzDate);
    if (signedAt === undefined || Math.abs(Date.now() - signedAt.getTime()) > MAX_SKEW_MS) {
      return { refused: 'bad-signature', why: 'the request has no X-Amz-Date within 15 minutes of now' };
    }
    const signedHeaders = signedList.split(';');
    if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) return { refused: 'bad-signature', why: 'the signature does not cover Host and X-Amz-Date' };
    // The signer takes a payload hash header on trust: one that is not the body's would let another body through.
    const declared = request.headers['x-amz-content-sha256'];
    if (declared !== undefined && declared !== createHash('sha256').update(body).digest('hex')) return { refused: 'bad-signature', why: 'X-Amz-Content-SHA256 is not the body\'s' };

    const url = new URL(request.url, 'http://local');
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) {
      const value = request.headers[name];
      if (value === undefined) return { refused: 'bad-signature', why: `the signed header ${name} is missing` };
      headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    const query: Record<string, string | string[]> = {};
    for (const [key, value] of url.searchParams) query[key] = key in query ? [query[key]!, value].flat() : value;
    const unsigned = new HttpRequest({ method: request.method, protocol: 'http:', hostname: 'local', path: rawPath(request.url), query, headers, body });
    // The payload hash is a signed header when the client signed it (the AWS SDK does, botocore does not).
    const applyChecksum = signedHeaders.includes('x-amz-content-sha256');
    const signer = new SignatureV4({ credentials: { accessKeyId: accessKey, secretAccessKey: secret }, region, service, sha256: Sha256, applyChecksum });
    const signed = await signer.sign(unsigned, { signingDate: signedAt, signableHeaders: new Set(signedHeaders), signingRegion: region, signingService: service });
    const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] ?? '';
    const matches = expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
    return matches ? { accessKey } : { refused: 'bad-signature', why: 'the request signature we calculated does not match the signature you provided' };
  }
}

/** The path as it came on the wire, still percent-encoded: the signer encodes it once more, as SigV4 asks. */
function rawPath(url: string): string {
  const end = url.search(/[?#]/);
  return end < 0 ? url : url.slice(0, end);
}

/** 20261204T181500Z → that instant; undefined for anything else. */
function parseAmzDate(text: string): Date | undefined {
  const parts = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!parts) return undefined;
  const [, year, month, day, hour, minute, second] = parts.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second));
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): BinaryLike {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

/** SHA-256 and its HMAC in the shape the AWS SDK's signer takes, from node:crypto. */
export class Sha256 {
  readonly #hash;

  public constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }

  public update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytes(data));
  }

  public async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}
