/**
 * The CDK app (`npx cdk synth`). Settings come from context, see cdk/config.ts:
 *   -c datasetBuckets=a,b   -c defaultBaseModel=bert-base-uncased   -c spot=false   -c maxVcpus=32
 *   -c cdnKeyRotation=2
 * cdk-nag's AwsSolutions pack checks the app at synth; accepted findings are acknowledged in the
 * constructs that cause them, each with its reason (cdk/nag.ts).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFromContext } from './config.ts';
import { AdapterStoreStack } from './stack.ts';

const app = new App();
new AdapterStoreStack(app, 'AdapterStore', { config: configFromContext(app.node) });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
