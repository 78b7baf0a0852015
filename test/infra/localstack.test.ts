import { Match, Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { templateApp } from './helpers.ts';
import { DeliveryPoliciesStack } from '../../lib/stacks/delivery-policies-stack.ts';

// The LocalStack workflow cannot run here (no Docker engine), so what can be known without running it is checked:
// the compose file, the deploy script, and what the app synthesizes for LocalStack.
const compose = readFileSync('docker-compose.yml', 'utf8');
const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
const template = Template.fromStack(new DeliveryPoliciesStack(templateApp({ context: { target: 'localstack' } }), 'DeliveryPolicies'));

describe('LocalStack workflow', () => {
  it('pins the last image that starts without an auth token, and asks for none', () => {
    expect(compose).toMatch(/image: localstack\/localstack:\$\{LOCALSTACK_IMAGE_TAG:-4\.14\.0\}/);
    expect(compose).toMatch(/LOCALSTACK_AUTH_TOKEN=\$\{LOCALSTACK_AUTH_TOKEN:-\}/);
  });

  it('runs the arm64 functions on an x86 host', () => {
    expect(compose).toMatch(/^\s+- LAMBDA_IGNORE_ARCHITECTURE=1$/m);
  });

  it('enables every service the synthesized app uses, and those cdklocal bootstraps and deploys with', () => {
    const enabled = new Set(/SERVICES=([\w,]+)/.exec(compose)![1]!.split(','));
    for (const service of ['cloudformation', 's3', 'ssm', 'sts', 'iam', 'ecr']) expect(enabled).toContain(service);
    const used = new Set(Object.values(template.toJSON().Resources as Record<string, { Type: string }>).map((resource) => resource.Type.split('::')[1]!.toLowerCase()));
    expect([...used].filter((service) => !enabled.has(service))).toStrictEqual([]);
  });

  it('deploys with the region kept and the local cloud\'s endpoint variables cleared, for LocalStack', () => {
    const deploy = scripts['localstack:deploy']!;
    expect(deploy).toMatch(/AWS_ENVAR_ALLOWLIST=AWS_REGION,AWS_DEFAULT_REGION/);
    for (const variable of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_SQS', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_LAMBDA']) expect(deploy).toContain(`-u ${variable} `);
    expect(deploy.match(/-c target=localstack/g)).toHaveLength(2);
  });

  it('synthesizes for LocalStack without a dashboard and with the log groups LocalStack writes to', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    template.resourceCountIs('AWS::Logs::LogGroup', 0);
    template.allResourcesProperties('AWS::Lambda::Function', { LoggingConfig: Match.objectLike({ LogGroup: Match.absent() }) });
  });
});
