import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJSONSchema } from 'zod';
import {
  channelFor,
  channelStats,
  ClientError,
  InvalidArgument,
  parseJson,
  peekDeadLetters,
  previewRedrive,
  purgeDeadLetters,
  redriveDeadLetters,
  topicFor,
  topicStats,
  traceMessage,
  type MessagingClient,
  type TraceNode,
} from '../client/index.ts';
import { findUp } from '../../local/find-up.ts';
import { OutputKey, type Schema } from '../policy/index.ts';

/**
 * The local console: a page on loopback that shows the application's channels live, its dead letters, each message's
 * story, and sends, redrives and purges. It is a client like msg: every action goes through the SDK's functions, so what
 * the page does is what the CLI does.
 *
 * The page is Preact with htm (htm's standalone build: Preact, its hooks and htm in one 13 KiB module) and
 * @cfworker/json-schema for checking a payload against its channel's schema as it is typed. Both are plain ES modules
 * the browser loads as they are published, so nothing is bundled at build time or at start.
 */

/** A span the local cloud collected, as far as the console reads it. */
interface SpanLike {
  readonly traceId: string;
  readonly startMs: number;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** What the console reads of the local cloud beyond what the SDK can: its refused calls, its pollers' counts, its spans. */
export interface ConsoleCloud {
  denials(): readonly { readonly at: number; readonly functionName: string; readonly action: string; readonly resource: string; readonly why: string; readonly grant: string }[];
  readonly mappings: readonly { readonly queueArn: string; readonly records: number }[];
  spans(): readonly SpanLike[];
}

/** The spans of a trace's messages, by the correlation id each record's span carries (see functions/runtime/tracing.ts). */
function spansOf(nodes: readonly TraceNode[], spans: readonly SpanLike[]): SpanLike[] {
  const ids = new Set<string>();
  const visit = (node: TraceNode) => {
    ids.add(node.correlationId);
    node.onward.forEach(visit);
  };
  nodes.forEach(visit);
  return spans.filter((span) => ids.has(String(span.attributes['messaging.message.conversation_id']))).sort((a, b) => a.startMs - b.startMs);
}

export interface ConsoleOptions {
  readonly client: MessagingClient;
  readonly cloud: ConsoleCloud;
  /** @default 0 - a free port */
  readonly port?: number;
  /**
   * Serves on a free port when `port` is taken: for a default port, which a second app's console may hold. Every start
   * prints a new URL anyway (its token is new), so the port is only a convenience.
   */
  readonly anyPortIfTaken?: boolean;
}

export interface LocalConsole {
  /** The page, with the token: the only URL that lets a browser in. */
  readonly url: string;
  readonly token: string;
  close(): Promise<void>;
}

/** The cookie's name carries the port: cookies ignore ports, and two consoles (two apps) must not overwrite each other's. */
const tokenCookie = (port: number) => `console-token-${port}`;
const TOKEN_HEADER = 'x-console-token';
/** The largest request body the console reads: a payload SQS would take, and room for its JSON. */
const MAX_BODY_BYTES = 1024 * 1024 + 4096;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The page's files, and the two packages it imports, each by the path the page's import map gives it. */
function staticRoots(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const packageDir = (name: string) => {
    for (let dir = dirname(require.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
      const manifest = join(dir, 'package.json');
      if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return dir;
    }
    throw new Error(`cannot find the package ${name}`);
  };
  return {
    // The page as the package ships it, beside the build: lib/console/page in the package's own folder.
    '/': join(findUp(dirname(fileURLToPath(import.meta.url)), 'package.json')!, 'lib', 'console', 'page'),
    '/vendor/htm/': join(packageDir('htm'), 'preact'),
    '/vendor/json-schema/': join(packageDir('@cfworker/json-schema'), 'dist', 'esm'),
  };
}

/**
 * Serves the console on 127.0.0.1 until closed. A fresh token each start: the page's URL carries it and sets it as a
 * same-site cookie for the page's own files; the API takes it only as a header, which another site's page cannot send,
 * and only on a Host of loopback, which a DNS-rebinding page cannot give.
 */
export async function startConsole(options: ConsoleOptions): Promise<LocalConsole> {
  const token = randomBytes(24).toString('base64url');
  const roots = staticRoots();
  const api = consoleApi(options.client, options.cloud);
  const server = createServer((request, response) => {
    void serve(request, response).catch((error: unknown) => answer(response, 500, { error: { code: 'INTERNAL', message: (error as Error).message } }));
  });

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const port = (server.address() as AddressInfo).port;
    if (![`127.0.0.1:${port}`, `localhost:${port}`].includes(request.headers.host ?? '')) return answer(response, 403, { error: { code: 'FORBIDDEN', message: 'the console answers on loopback only' } });
    if (url.pathname.startsWith('/api/')) {
      if (!sameToken(String(request.headers[TOKEN_HEADER] ?? ''), token)) return answer(response, 401, { error: { code: 'UNAUTHORIZED', message: 'no console token' } });
      return api(request, url, response);
    }
    if (url.pathname === '/' || url.pathname === '/index.html') {
      if (!sameToken(url.searchParams.get('token') ?? '', token)) return refuse(response);
      const nonce = randomBytes(16).toString('base64');
      const page = readFileSync(join(roots['/']!, 'index.html'), 'utf8').replaceAll('{{nonce}}', nonce).replace('{{token}}', token);
      response.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': CONTENT_TYPES['.html']!,
        'content-security-policy': `default-src 'none'; script-src 'self' 'nonce-${nonce}'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        'set-cookie': `${tokenCookie(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`,
      });
      response.end(page);
      return;
    }
    if (!sameToken(cookieOf(request, tokenCookie(port)), token)) return refuse(response);
    const file = staticFile(roots, url.pathname);
    if (!file) return answer(response, 404, { error: { code: 'NOT_FOUND', message: url.pathname } });
    response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': CONTENT_TYPES[extname(file)]! });
    // A file that cannot be read after all (gone, unreadable) ends this response, not the process.
    pipeline(createReadStream(file), response, () => {});
  }

  await listen(server, options.port ?? 0).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EADDRINUSE' || !options.anyPortIfTaken) throw error;
    return listen(server, 0);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    token,
    close: () => new Promise((done) => {
      server.closeAllConnections();
      server.close(() => done());
    }),
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' };

function refuse(response: ServerResponse): void {
  response.writeHead(401, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
  response.end('This console needs the token of its start: open the URL that msg local printed.\n');
}

function sameToken(given: string, token: string): boolean {
  const [a, b] = [Buffer.from(given), Buffer.from(token)];
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieOf(request: IncomingMessage, name: string): string {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return '';
}

/** The file a path names under one of the roots, if it is a file the console serves and does not climb out of its root. */
function staticFile(roots: Record<string, string>, pathname: string): string | undefined {
  const prefix = Object.keys(roots).filter((candidate) => pathname.startsWith(candidate)).sort((a, b) => b.length - a.length)[0];
  if (!prefix) return undefined;
  const root = roots[prefix]!;
  let wanted: string;
  try {
    wanted = decoded(pathname.slice(prefix.length - 1));
  } catch {
    return undefined;
  }
  const file = resolve(root, `.${wanted}`);
  if (relative(root, file).startsWith('..') || !CONTENT_TYPES[extname(file)] || !existsSync(file)) return undefined;
  return file;
}

/** A path segment decoded; a malformed escape is the caller's mistake, answered 400. */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InvalidArgument(`not a valid path: ${segment}`);
  }
}

function answer(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.headersSent) return void response.end();
  response.writeHead(status, { ...SECURITY_HEADERS, ...headers, 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function jsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new InvalidArgument('the request is larger than any message a channel takes');
    chunks.push(chunk as Buffer);
  }
  const value = chunks.length === 0 ? {} : parseJson(Buffer.concat(chunks).toString('utf8'), 'the request');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgument('the request must be a JSON object');
  return value as Record<string, unknown>;
}

/** A schema as JSON Schema for the page to check payloads with; undefined for one JSON Schema cannot say (the server still checks). */
function jsonSchemaOf(schema: Schema): unknown {
  try {
    return toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  } catch {
    return undefined;
  }
}

/** How many messages each channel's consumer took a second, from the pollers' counts between two looks. */
function handledRates(client: MessagingClient, cloud: ConsoleCloud): () => Record<string, number> {
  let last: { at: number; counts: Map<string, number> } | undefined;
  let rates: Record<string, number> = {};
  const queueNameOf = (urlOrArn: string) => urlOrArn.split(/[/:]/).pop()!;
  return () => {
    const now = Date.now();
    const counts = new Map(cloud.mappings.map((mapping) => [queueNameOf(mapping.queueArn), mapping.records]));
    // A look less than a second after the last repeats its rates: two pages open must not halve each other's window.
    if (last && now - last.at < 1000) return rates;
    if (last) {
      const seconds = (now - last.at) / 1000;
      rates = Object.fromEntries(
        Object.keys(client.channels).flatMap((name) => {
          if (client.channels[name]!.policy.kind === 'request-response') return [];
          const queue = queueNameOf(client.output(OutputKey.queueUrl(name)));
          return [[name, Math.max(0, ((counts.get(queue) ?? 0) - (last!.counts.get(queue) ?? 0)) / seconds)]];
        }),
      );
    }
    last = { at: now, counts };
    return rates;
  };
}

type Route = (match: RegExpMatchArray, body: () => Promise<Record<string, unknown>>, url: URL) => Promise<unknown>;

function ids(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((id) => typeof id === 'string')) throw new InvalidArgument('"only" must be a list of message or correlation ids');
  return value as string[];
}

/** The console's API: each route one call of the SDK's, its errors as msg gives them (a code and one line). */
function consoleApi(client: MessagingClient, cloud: ConsoleCloud) {
  const rates = handledRates(client, cloud);
  const deadLetterChannel = (name: string) => channelFor(client.channels, decoded(name), 'deadLetters').name;
  const routes: [string, RegExp, Route][] = [
    [
      'GET',
      /^\/api\/catalog$/,
      async () => ({
        channels: Object.values(client.channels).map((channel) => ({ name: channel.name, policy: channel.policy.kind, schema: jsonSchemaOf(channel.schema) })),
        topics: Object.values(client.topics).map((topic) => ({ name: topic.name, schema: jsonSchemaOf(topic.schema) })),
      }),
    ],
    [
      'GET',
      /^\/api\/overview$/,
      async () => {
        const [channels, topics] = await Promise.all([channelStats(client), topicStats(client)]);
        const perSecond = rates();
        return { at: Date.now(), channels: channels.map((stats) => ({ ...stats, handledPerSecond: perSecond[stats.channel] ?? 0 })), topics, denials: cloud.denials().slice(-20).reverse() };
      },
    ],
    [
      'GET',
      /^\/api\/trace\/([^/]+)$/,
      async (match) => {
        const nodes = await traceMessage(client, decoded(match[1]!));
        return { nodes, spans: spansOf(nodes, cloud.spans()) };
      },
    ],
    ['GET', /^\/api\/dead-letters\/([^/]+)$/, async (match, _body, url) => peekDeadLetters(client, deadLetterChannel(match[1]!), Math.min(100, Number(url.searchParams.get('max') ?? 50) || 50))],
    [
      'POST',
      /^\/api\/send\/([^/]+)$/,
      async (match, body) => {
        const channel = channelFor(client.channels, decoded(match[1]!));
        const { payload } = await body();
        if (channel.policy.kind === 'request-response') return { answer: await client.request(channel.name, payload) };
        return client.send(channel.name, payload);
      },
    ],
    ['POST', /^\/api\/publish\/([^/]+)$/, async (match, body) => client.publish(topicFor(client.topics, decoded(match[1]!)).name, (await body()).event)],
    ['POST', /^\/api\/redrive\/([^/]+)\/preview$/, async (match, body) => previewRedrive(client, deadLetterChannel(match[1]!), 100, ids((await body()).only))],
    [
      'POST',
      /^\/api\/redrive\/([^/]+)$/,
      async (match, body) => {
        const { only, body: edited, skipApplied } = await body();
        if (edited !== undefined && typeof edited !== 'string') throw new InvalidArgument('"body" must be the message body as text');
        return redriveDeadLetters(client, deadLetterChannel(match[1]!), { only: ids(only), body: edited as string | undefined, skipApplied: skipApplied === true });
      },
    ],
    [
      'POST',
      /^\/api\/purge\/([^/]+)$/,
      async (match, body) => {
        const channel = deadLetterChannel(match[1]!);
        // The page asks for the channel's name typed out, as msg dlq purge does; the API holds it to that too.
        if ((await body()).confirm !== channel) throw new InvalidArgument(`purging deletes messages for good: confirm with the channel's name, ${channel}`);
        return { purged: await purgeDeadLetters(client, channel) };
      },
    ],
  ];
  return async (request: IncomingMessage, url: URL, response: ServerResponse): Promise<void> => {
    const route = routes.map(([method, pattern, run]) => ({ method, match: url.pathname.match(pattern), run })).find(({ match }) => match);
    if (!route) return answer(response, 404, { error: { code: 'NOT_FOUND', message: url.pathname } });
    if (route.method !== request.method) return answer(response, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${url.pathname} takes ${route.method}` } }, { allow: route.method });
    try {
      answer(response, 200, await route.run(route.match!, () => jsonBody(request), url));
    } catch (error) {
      if (error instanceof ClientError) return answer(response, 400, { error: { code: error.code, message: error.message } });
      throw error;
    }
  };
}
