import { describe, expect, it } from 'vitest';
import { filterFindings } from './findings-filter.ts';

describe('filterFindings', () => {
  const findings = [
    { Id: 'vaikora-1', Severity: { Label: 'HIGH' }, Resources: [{ Id: 'agent-a', Type: 'Other' }] },
    { Id: 'vaikora-2', Severity: { Label: 'CRITICAL' }, Resources: [{ Id: 'agent-b', Type: 'Other' }] },
    { Id: 'other-3', Severity: { Label: 'HIGH' }, Resources: [{ Id: 'agent-a', Type: 'Other' }] },
  ];

  it('ORs positive comparisons on one field and ANDs fields', () => {
    const result = filterFindings(findings, {
      Id: [{ Value: 'vaikora-', Comparison: 'PREFIX' }],
      SeverityLabel: [
        { Value: 'HIGH', Comparison: 'EQUALS' },
        { Value: 'CRITICAL', Comparison: 'EQUALS' },
      ],
    });

    expect(result).toEqual([findings[0], findings[1]]);
  });

  it('ANDs negative comparisons', () => {
    const result = filterFindings(findings, {
      Id: [
        { Value: 'vaikora-1', Comparison: 'NOT_EQUALS' },
        { Value: 'other', Comparison: 'PREFIX_NOT_EQUALS' },
      ],
    });

    expect(result).toEqual([findings[1]]);
  });

  it('reports filters it cannot evaluate instead of ignoring them', () => {
    const result = filterFindings(findings, { ProcessPid: [{ Eq: 1 }] });

    expect(result).toMatch(/ProcessPid is not supported/);
  });
});
