import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type CustomerRoleTemplate,
  parseTemplate,
  renderTemplateBody as renderBody,
} from '@vsh/role-contract';

/** Absolute path of the customer-role CloudFormation template (the source of truth, ADR 0041). */
export const TEMPLATE_PATH = fileURLToPath(new URL('../template.yaml', import.meta.url));

/** The template's text as kept in the repository (Data443AccountId still the placeholder). */
export function templateBody(): string {
  return readFileSync(TEMPLATE_PATH, 'utf8');
}

/** The repository's template, parsed. */
export function loadTemplate(): CustomerRoleTemplate {
  return parseTemplate(templateBody());
}

/** The repository's template text to publish: Data443AccountId's default set to Data443's real account. */
export function renderTemplateBody(options: { readonly data443AccountId: string }): string {
  return renderBody({ data443AccountId: options.data443AccountId, body: templateBody() });
}
