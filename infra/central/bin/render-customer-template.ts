import { renderTemplateBody } from '@vsh/customer-role';

// Prints the customer-role template to publish, with Data443's account ID as the Data443AccountId
// default: `pnpm -F @vsh/central-stack render-customer-template 123456789012 > template.yaml`.
const [data443AccountId] = process.argv.slice(2);
if (data443AccountId === undefined) {
  process.stderr.write('usage: render-customer-template <Data443 account ID>\n');
  process.exit(2);
}
process.stdout.write(renderTemplateBody({ data443AccountId }));
