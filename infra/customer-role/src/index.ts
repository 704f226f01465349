// The rules of the customer role live in @vsh/role-contract (run-time code imports that package,
// never infra/; see docs/adr/0103). This package keeps the template file and what reads it, and
// re-exports the contract so that infra code and tests can keep importing it from here.
export * from '@vsh/role-contract';
export { REGISTRATION_HANDLER_SOURCE } from './org-registration-handler.ts';
export {
  loadOrgTemplate,
  ORG_MEMBER_TEMPLATE_PATH,
  ORG_STACKSET_TEMPLATE_PATH,
  ROLE_LOGICAL_ID,
} from './org-stackset.ts';
export { loadTemplate, renderTemplateBody, TEMPLATE_PATH, templateBody } from './template.ts';
