import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkModel, type ModelKind } from '../helpers/consumer-model.ts';
import { RuntimeHarness } from '../helpers/runtime-harness.ts';

// The short run of the model-based test; `npm run test:chaos` runs it long. MODEL_SEED replays a printed seed.
const harness = new RuntimeHarness();
beforeAll(() => harness.start());
afterAll(() => harness.stop());

const runs = Number(process.env.MODEL_RUNS ?? 15);
const seed = process.env.MODEL_SEED ? Number(process.env.MODEL_SEED) : undefined;

describe('Model: the guaranteed consumer under generated schedules of duplicates, concurrency, crashes and faults', () => {
  it.each<ModelKind>(['transactional', 'outside', 'fifo'])(
    '%s: applied once (outside: again only after a crash between effect and completion), or dead-lettered with a reason and applied after the redrive',
    { timeout: 240_000 },
    async (kind) => {
      const { explored, seed: used } = await checkModel(harness, kind, { runs, seed });
      console.log(`model ${kind}: ${explored} schedules explored, 0 violations (seed ${used})`);
      expect(explored).toBe(runs);
    },
  );
});
