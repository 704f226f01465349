import { App } from 'aws-cdk-lib';
import { addNagChecks, CentralStack, configFromContext } from '../src/index.ts';

// The CDK CLI passes context and the output folder through CDK_CONTEXT_JSON and CDK_OUTDIR,
// which App reads; run directly (`tsx bin/central.ts`) it synthesizes to CDK_OUTDIR or a temp folder.
const app = new App();
const config = configFromContext(app.node, process.env);
new CentralStack(app, config.stackName, config.props);
addNagChecks(app);
app.synth();
