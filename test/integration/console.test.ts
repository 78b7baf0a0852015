import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels, topics } from '../../lib/channels.ts';
import { createClient, type MessagingClient } from '../../lib/client/index.ts';
import { startConsole, type LocalConsole } from '../../lib/console/server.ts';
import { MessageAttribute, OutputKey } from '../../lib/policy/index.ts';
import { startLocalCloud, type LocalCloud } from '../../local/index.ts';
import { withExampleAssembly } from '../helpers/example-assembly.ts';
import { sharedDynamoDb } from '../helpers/shared-dynamodb.ts';

/**
 * The local console in a real browser (Debian's chromium, driven by playwright-core), against the example app on the
 * local cloud: a message sent through the form is applied in its timeline; a poison message is dead-lettered, found
 * with its reason, previewed and redriven with its body mended; each receive's OpenTelemetry span, recorded in the
 * function's instance, shows beside it. Screenshots of each step are kept in artifacts/console.
 */

const BROWSER = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
const SCREENSHOTS = join('artifacts', 'console');
/** Ceiling for what the page waits on (a consumer's cold start, a backoff): against hangs, not a performance bound. */
const SETTLES_WITHIN_MS = 90_000;

if (!BROWSER) {
  console.warn('console browser test skipped: no chromium found (apt-get install chromium, or set CHROMIUM_PATH)');
}

describe.skipIf(!BROWSER)('the local console, in a browser', () => {
  const stateDir = `.local-cloud/console-${randomUUID().slice(0, 8)}`;
  let cloud: LocalCloud;
  let client: MessagingClient<typeof channels>;
  let localConsole: LocalConsole;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    rmSync(SCREENSHOTS, { recursive: true, force: true });
    mkdirSync(SCREENSHOTS, { recursive: true });
    cloud = await startLocalCloud({ stateDir: withExampleAssembly(stateDir), sharedDynamoDb: sharedDynamoDb('console'), collectSpans: true });
    client = await createClient({ channels, topics, target: 'local', localStateDir: stateDir });
    localConsole = await startConsole({ client, cloud });
    // Root in a container has no user namespaces for chromium's sandbox; the page is our own, on loopback.
    browser = await chromium.launch({ executablePath: BROWSER, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(SETTLES_WITHIN_MS);
  });

  afterAll(async () => {
    await browser?.close();
    await localConsole?.close();
    client?.destroy();
    await cloud?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  it('refuses the page and the API without the token of its start, and off loopback; answers mistakes with 4xx', async () => {
    const base = localConsole.url.replace(/\/\?token=.*$/, '');
    expect((await fetch(`${base}/`)).status).toBe(401);
    expect((await fetch(`${base}/?token=${'x'.repeat(localConsole.token.length)}`)).status).toBe(401);
    expect((await fetch(`${base}/app.js`)).status).toBe(401);
    expect((await fetch(`${base}/api/overview`)).status).toBe(401);
    expect((await fetch(`${base}/api/overview`, { headers: { 'x-console-token': localConsole.token } })).status).toBe(200);
    expect((await fetch(`${base.replace('127.0.0.1', 'localhost')}/api/overview`, { headers: { 'x-console-token': localConsole.token } })).status).toBe(200);
    // A malformed path is the caller's mistake, and a wrong method says which one the path takes
    expect((await fetch(`${base}/api/trace/%E0%A4%A`, { headers: { 'x-console-token': localConsole.token } })).status).toBe(400);
    const wrongMethod = await fetch(`${base}/api/overview`, { method: 'POST', headers: { 'x-console-token': localConsole.token } });
    expect([wrongMethod.status, wrongMethod.headers.get('allow')]).toStrictEqual([405, 'GET']);
  });

  it('sends through the form, checked by the schema as it is typed, and shows the message applied in its timeline', async () => {
    await page.goto(localConsole.url);
    await page.locator('tr[data-channel="orders"]').waitFor();
    await page.getByLabel('Channel or topic').selectOption('orders');
    const payload = page.getByLabel('Payload (JSON)');
    const send = page.getByRole('button', { name: 'Send', exact: true });

    // A payload the schema refuses: the page says where, and will not send it
    await payload.fill('{"orderId": "o-1", "customerId": "c-1", "items": []}');
    await expect.poll(() => page.locator('#send-payload-check').textContent()).toMatch(/items/);
    expect(await send.isDisabled()).toBe(true);
    await shot('1-send-refused-by-schema');

    const orderId = `o-${randomUUID().slice(0, 8)}`;
    await payload.fill(JSON.stringify({ orderId, customerId: 'c-1', items: [{ sku: 'tea', quantity: 2 }] }));
    await send.click();
    const applied = page.locator('#timeline [data-trace-channel="orders"][data-trace-status="succeeded"]');
    await applied.waitFor();
    expect(await applied.textContent()).toMatch(/applied/);
    expect(await applied.textContent()).toContain(orderId);
    // The consumer's span for it, recorded in the function's instance and collected by the local cloud
    const span = applied.locator('table.spans tr[data-span-status="unset"]', { hasText: 'orders process' });
    await expect.poll(async () => (await page.getByRole('button', { name: 'Show timeline' }).click(), span.count()), { timeout: SETTLES_WITHIN_MS, interval: 500 }).toBe(1);
    await shot('2-sent-and-applied');
  });

  it('finds a poison message in the dead letters with its reason, previews its redrive, and redrives it mended', async () => {
    // A body no sender of this library could send (the SDK checks it first): sent straight to the queue
    const correlationId = `poison-${randomUUID().slice(0, 8)}`;
    await client.sqs.send(
      new SendMessageCommand({
        QueueUrl: client.output(OutputKey.queueUrl('orders')),
        MessageBody: JSON.stringify({ orderId: 7, customerId: 'c-2', items: [{ sku: 'tea', quantity: 1 }] }),
        MessageAttributes: { [MessageAttribute.correlationId]: { DataType: 'String', StringValue: correlationId } },
      }),
    );
    await page.goto(localConsole.url);
    const deadLetterButton = page.getByRole('button', { name: 'Dead letters of orders' });
    await page.locator('tr[data-channel="orders"] td[data-dead-letters="1"]').waitFor();
    await deadLetterButton.click();
    const letter = page.locator('tr', { hasText: correlationId });
    await letter.waitFor();
    expect(await letter.locator('.reason').textContent()).toMatch(/schema violation: orderId/);
    await shot('3-dead-letter-with-reason');

    await page.getByRole('button', { name: 'Preview redrive' }).click();
    const verdict = page.locator('#redrive-preview tr', { hasText: correlationId });
    await verdict.waitFor();
    expect(await verdict.getAttribute('data-verdict')).toBe('fails-schema');
    await shot('4-redrive-preview');

    await letter.getByRole('button', { name: 'Edit and redrive' }).click();
    const body = page.getByLabel(/^Body of/);
    await body.fill(JSON.stringify({ orderId: '7', customerId: 'c-2', items: [{ sku: 'tea', quantity: 1 }] }));
    await page.getByRole('button', { name: 'Redrive edited' }).click();
    await page.getByText(/Redrive: .*"moved":1/).waitFor();
    await shot('5-redriven');

    // Its timeline: dead-lettered, redriven, applied
    await page.getByLabel('Message or correlation id').fill(correlationId);
    const show = page.getByRole('button', { name: 'Show timeline' });
    const applied = page.locator('#timeline [data-trace-status="succeeded"]');
    await expect.poll(async () => (await show.click(), applied.count()), { timeout: SETTLES_WITHIN_MS, interval: 1000 }).toBe(1);
    expect(await applied.textContent()).toMatch(/dead-lettered.*redriven.*applied/s);
    // Two spans, one per receive (each a trace of its own: the poison came with none), the first an error, the second not
    await expect.poll(async () => (await show.click(), applied.locator('table.spans tbody tr').count()), { timeout: SETTLES_WITHIN_MS, interval: 500 }).toBe(2);
    expect(await applied.locator('table.spans tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-span-status')))).toStrictEqual(['error', 'unset']);
    await shot('6-applied-after-redrive');
  });
});
