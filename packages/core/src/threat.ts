import type { VaikoraAction } from './action.ts';

/**
 * ASFF types for the techniques a confirmed AI-agent threat can show. Namespace and category are from
 * Security Hub's Types taxonomy (TTP categories follow MITRE ATT&CK; prompt injection and jailbreak sit
 * where MITRE ATLAS puts them); the classifier always starts "AI Agent" so one filter finds them all.
 */
export const THREAT_TYPES = {
  promptInjection: 'TTPs/Initial Access/AI Agent Prompt Injection',
  jailbreak: 'TTPs/Defense Evasion/AI Agent Jailbreak',
  exfiltration: 'Effects/Data Exfiltration/AI Agent Data Exfiltration',
  credentialAccess: 'TTPs/Credential Access/AI Agent Credential Access',
  privilegeEscalation: 'TTPs/Privilege Escalation/AI Agent Privilege Escalation',
  codeExecution: 'TTPs/Execution/AI Agent Code Execution',
  sensitiveData: 'Sensitive Data Identifications/PII/AI Agent Sensitive Data Exposure',
} as const;
export type ThreatTypeKey = keyof typeof THREAT_TYPES;

/** The type of a confirmed threat whose fields name no technique. */
export const GENERIC_THREAT_TYPE = 'TTPs/AI Agent Threat';

// Separators Vaikora's identifiers use between words: `prompt_injection`, `data.exfiltration`.
const SEP = '[\\s_.:/-]*';
/** In the order they appear in Types; each is tested once per hint text. */
const RULES: readonly (readonly [ThreatTypeKey, RegExp])[] = [
  ['promptInjection', new RegExp(`prompt${SEP}injection|injected${SEP}(prompt|instruction)`, 'i')],
  ['jailbreak', new RegExp(`jail${SEP}break`, 'i')],
  ['exfiltration', new RegExp(`exfiltrat|(data|information)${SEP}(leak|theft|exfil)|leakage`, 'i')],
  [
    'credentialAccess',
    new RegExp(`credential|secret|api${SEP}key|access${SEP}key|password|private${SEP}key`, 'i'),
  ],
  ['privilegeEscalation', new RegExp(`privilege${SEP}escalat|escalat\\w*${SEP}privilege`, 'i')],
  [
    'codeExecution',
    new RegExp(`(code|command|shell)${SEP}(exec|injection|run)|remote${SEP}code|\\brce\\b`, 'i'),
  ],
  ['sensitiveData', new RegExp(`\\bpii\\b|personal${SEP}data|personally${SEP}identifiable`, 'i')],
];

/**
 * How much of each hint field is read. Hints are labels (`prompt_injection`, "Jailbreak attempt"); a
 * field that is kilobytes long is prose or an attack payload, and scanning all of it would let one
 * record cost what thousands do.
 */
const HINT_CHARS = 512;

/**
 * The ASFF threat types of an action: none unless Vaikora confirmed a threat; then the techniques named
 * by its action type, anomaly reason or title, or the generic threat type when none is named.
 */
export function threatTypesFor(action: VaikoraAction): string[] {
  if (!action.threatDetected) return [];
  const hints = [action.actionType, action.anomalyReason, action.title]
    .filter((h): h is string => h !== undefined)
    .map((h) => h.slice(0, HINT_CHARS))
    .join('\n');
  const types: string[] = [];
  for (const [key, pattern] of RULES) {
    if (pattern.test(hints)) types.push(THREAT_TYPES[key]);
  }
  return types.length > 0 ? types : [GENERIC_THREAT_TYPE];
}
