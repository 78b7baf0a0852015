import { afterEach, describe, expect, it, vi } from 'vitest';
import { discover } from '../../lib/client/index.ts';
import { OutputKey, SenderEnv } from '../../lib/policy/index.ts';

describe('discover, inside AWS', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('reads the endpoints a grant put in the environment, with no call to CloudFormation', async () => {
    // GIVEN what ChannelCatalog.grantSend sets on a function, and a CloudFormation endpoint nothing listens on
    vi.stubEnv(SenderEnv.output(OutputKey.queueUrl('orders')), 'https://sqs.eu-west-1.amazonaws.com/123456789012/orders');
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('AWS_ENDPOINT_URL_CLOUDFORMATION', 'http://127.0.0.1:9');
    // WHEN the SDK discovers the application THEN it has the outputs at once
    await expect(discover({ target: 'aws' })).resolves.toStrictEqual({
      target: 'aws',
      region: 'eu-west-1',
      endpoints: {},
      outputs: { [OutputKey.queueUrl('orders')]: 'https://sqs.eu-west-1.amazonaws.com/123456789012/orders' },
    });
  });

  it('asks CloudFormation when no grant set any (and says so when it cannot be reached)', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_CLOUDFORMATION', 'http://127.0.0.1:9');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
    await expect(discover({ target: 'aws', region: 'eu-west-1' })).rejects.toMatchObject({ code: 'ENDPOINT_UNREACHABLE', cause: expect.any(Error) });
  });
});
