#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DeliveryPoliciesStack } from '../lib/stacks/delivery-policies-stack.ts';

const app = new App();
new DeliveryPoliciesStack(app, 'DeliveryPolicies', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Delivery policies as infrastructure: request-response, guaranteed and fire-and-forget channels',
  // `cdk deploy -c alarmEmail=ops@example.com` subscribes an address to the alarms' topic.
  alarmEmail: app.node.tryGetContext('alarmEmail'),
});
// `cdk synth -c nag=true` runs cdk-nag's AwsSolutions pack on the app; the tests always do.
if (app.node.tryGetContext('nag') === 'true' || app.node.tryGetContext('nag') === true) {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}
