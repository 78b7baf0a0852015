import { defineChannel, defineSubscriber, defineTopic } from 'delivery-policies';
import { en } from 'zod/locales';
import * as z from 'zod/mini';

// zod/mini keeps each handler's bundle small (about 20 KiB of schema code, where classic zod is 440); the English
// locale gives its errors readable messages. Classic zod works too, at that cost.
z.config(en());

/**
 * Every channel of this app, one per delivery policy, and a topic. A channel is declared here once, with its handler
 * in functions/<name>/: the stack builds it, its handler and the SDK are typed by it. Add yours the same way.
 */

/** A task must not be lost; its receipt can come later (guaranteed, with a reply). */
export const tasks = defineChannel('tasks', {
  policy: { kind: 'guaranteed', effect: 'transactional', reply: true, timeoutSeconds: 10 },
  schema: z.object({ taskId: z.string().check(z.minLength(1), z.maxLength(64)), title: z.string().check(z.minLength(1), z.maxLength(200)) }),
  replySchema: z.object({ taskId: z.string(), receipt: z.string() }),
});

/** An alert is worth something for a minute; it is never retried (fire-and-forget). */
export const alerts = defineChannel('alerts', {
  policy: { kind: 'fire-and-forget', timeToLiveSeconds: 60 },
  schema: z.object({ text: z.string().check(z.minLength(1), z.maxLength(500)) }),
});

/** A price the caller needs within 2 s; the fallback answers from a fixed list (request-response). */
export const prices = defineChannel('prices', {
  policy: { kind: 'request-response', deadlineMs: 2000, fallback: true },
  schema: z.object({ sku: z.string().check(z.minLength(1), z.maxLength(64)) }),
  replySchema: z.object({ sku: z.string(), cents: z.int(), source: z.enum(['primary', 'fallback']) }),
});

/** Announced once a task is stored; each service that cares subscribes under its own policy (a topic). */
export const taskCreated = defineTopic('taskCreated', {
  schema: z.object({ taskId: z.string().check(z.minLength(1), z.maxLength(64)), title: z.string().check(z.minLength(1), z.maxLength(200)) }),
});

/** Keeps a digest of new tasks, each entered once (a guaranteed subscriber of taskCreated). */
export const digest = defineSubscriber(taskCreated, 'digest', { policy: { kind: 'guaranteed', effect: 'transactional', timeoutSeconds: 10 } });

/** Tells the task's assignee, an outside system, once; it is given the event's key to drop a repeat (guaranteed, outside effect). */
export const assignment = defineSubscriber(taskCreated, 'assignment', { policy: { kind: 'guaranteed', effect: 'outside', timeoutSeconds: 10 } });

/** Puts the new task on a ticker for a minute, then it is old news (a fire-and-forget subscriber). */
export const ticker = defineSubscriber(taskCreated, 'ticker', { policy: { kind: 'fire-and-forget', timeToLiveSeconds: 60 } });

export const channels = { tasks, alerts, prices, digest, assignment, ticker } as const;
export const topics = { taskCreated } as const;
