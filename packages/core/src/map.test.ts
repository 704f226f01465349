import { describe, expect, it } from 'vitest';
import { parseAction, type VaikoraAction } from './action.ts';
import { ANOMALY_FINDING_TYPE, type Destination, FINDING_TYPE } from './asff.ts';
import { thresholdsSchema } from './filter.ts';
import { mapAction, severityFor } from './map.ts';
import { prepareAction } from './pipeline.ts';
import { GENERIC_THREAT_TYPE, THREAT_TYPES } from './threat.ts';
import { validateFinding } from './validate.ts';

const destination: Destination = {
  accountId: '210987654321',
  region: 'us-gov-west-1',
  partition: 'aws-us-gov',
};
const now = '2026-11-25T10:00:00.000Z';

function action(fields: Record<string, unknown>): VaikoraAction {
  const result = parseAction({ id: 'act-7', timestamp: '2026-11-01T00:00:00Z', ...fields });
  if (!result.ok) throw new Error(result.rejection.reason);
  return result.action;
}

describe('mapAction: the required fields as docs/asff.md specifies', () => {
  const finding = mapAction(
    action({
      agent_id: 'agt-sql',
      action_type: 'database.write',
      risk_level: 'critical',
      risk_score: 97,
      policy_id: 'pol-3',
      policy_decision: 'block',
    }),
    { destination, now },
  );

  it.each([
    ['SchemaVersion', '2018-10-08'],
    ['Id', 'vaikora-act-7'],
    ['ProductArn', 'arn:aws-us-gov:securityhub:us-gov-west-1:210987654321:product/210987654321/default'],
    ['ProductName', 'Vaikora AI Agent Security'],
    ['CompanyName', 'Data443'],
    ['GeneratorId', 'vaikora/policy/pol-3'],
    ['AwsAccountId', '210987654321'],
    ['Region', 'us-gov-west-1'],
    ['CreatedAt', '2026-11-01T00:00:00.000Z'],
    ['FirstObservedAt', '2026-11-01T00:00:00.000Z'],
    ['UpdatedAt', now],
    ['RecordState', 'ACTIVE'],
  ])('%s', (field, value) => {
    expect(finding[field as keyof typeof finding]).toBe(value);
  });

  it('types, severity and provider fields', () => {
    expect(finding.Types).toEqual([FINDING_TYPE]);
    expect(finding.Severity).toEqual({ Label: 'CRITICAL', Normalized: 95, Original: 'critical (score 97)' });
    expect(finding.FindingProviderFields).toEqual({
      Severity: { Label: 'CRITICAL', Original: 'critical (score 97)' },
      Types: [FINDING_TYPE],
    });
  });

  it('resources: the agent and the account, with partition and region', () => {
    expect(finding.Resources).toEqual([
      {
        Type: 'Other',
        Id: 'vaikora:agent/agt-sql',
        Partition: 'aws-us-gov',
        Region: 'us-gov-west-1',
        // Details describe the agent only; what the action did is in ProductFields.
        Details: { Other: { source: 'vaikora', agentId: 'agt-sql' } },
      },
      {
        Type: 'AwsAccount',
        Id: 'AWS::::Account:210987654321',
        Partition: 'aws-us-gov',
        Region: 'us-gov-west-1',
      },
    ]);
  });

  it('an action without an agent names an unknown agent and claims no agent id', () => {
    const [agent] = mapAction(action({ risk_level: 'high' }), { destination, now }).Resources;

    expect(agent).toMatchObject({
      Id: 'vaikora:agent/unknown-agent',
      Details: { Other: { source: 'vaikora' } },
    });
    expect(agent?.Details?.Other).not.toHaveProperty('agentId');
  });

  it('title and description say who did what and how risky', () => {
    expect(finding.Title).toBe('Critical-risk AI agent action database.write by agt-sql');
    expect(finding.Description).toContain('AI agent agt-sql performed database.write.');
    expect(finding.Description).toContain('Risk score 97 (critical).');
    expect(finding.Description).toContain('Policy pol-3: block.');
    expect(finding.Description).toContain('Threat detected: no.');
  });

  it('never sets what the customer owns', () => {
    for (const owned of ['Workflow', 'Note', 'UserDefinedFields', 'VerificationState']) {
      expect(finding).not.toHaveProperty(owned);
    }
  });
});

describe('severity map', () => {
  it.each([
    [{ risk_level: 'critical' }, 'CRITICAL', 95],
    [{ risk_level: 'high' }, 'HIGH', 75],
    [{ risk_level: 'medium' }, 'MEDIUM', 50],
    [{ risk_level: 'low' }, 'LOW', 30],
    [{ severity: 'high' }, 'HIGH', 75],
    [{ risk_score: 100 }, 'CRITICAL', 95],
    [{ risk_score: 90 }, 'CRITICAL', 95],
    [{ risk_score: 89 }, 'HIGH', 75],
    [{ risk_score: 70 }, 'HIGH', 75],
    [{ risk_score: 69 }, 'MEDIUM', 50],
    [{ risk_score: 40 }, 'MEDIUM', 50],
    [{ risk_score: 39 }, 'LOW', 30],
    [{ risk_score: 1 }, 'LOW', 30],
    [{ risk_score: 0 }, 'INFORMATIONAL', 0],
    [{ threat_detected: true }, 'HIGH', 75],
    [{ is_anomaly: true }, 'MEDIUM', 50],
    [{}, 'INFORMATIONAL', 0],
  ])('%j → %s/%i', (fields, label, normalized) => {
    const severity = severityFor(action(fields));

    expect(severity.label).toBe(label);
    expect(severity.normalized).toBe(normalized);
  });
});

describe('optional details', () => {
  it('maps network indicators and processes', () => {
    const finding = mapAction(
      action({
        risk_level: 'high',
        ip_address: '10.1.2.3',
        target_ip: '2001:db8::1',
        target_url: 'https://paste.example.com/a?b',
        process_name: 'bash',
        file_path: '/bin/bash',
      }),
      { destination, now },
    );

    expect(finding.Network).toEqual({
      SourceIpV4: '10.1.2.3',
      DestinationIpV6: '2001:db8::1',
      DestinationDomain: 'paste.example.com',
      Direction: 'OUT',
    });
    expect(finding.Process).toEqual({ Name: 'bash', Path: '/bin/bash' });
  });

  it('ignores indicators that are not addresses', () => {
    const finding = mapAction(
      action({ risk_level: 'high', ip_address: 'not-an-ip', target_url: '<script>' }),
      { destination, now },
    );

    expect(finding.Network).toBeUndefined();
  });

  it('keeps Vaikora details in ProductFields', () => {
    const finding = mapAction(
      action({
        risk_level: 'high',
        risk_score: 80,
        is_anomaly: true,
        anomaly_score: 2.5,
        anomaly_reason: 'spike',
        threat_detected: true,
        threat_score: 0.9,
        log_hash: 'ff'.repeat(20),
      }),
      { destination, now },
    );

    expect(finding.ProductFields).toMatchObject({
      'vaikora/action_id': 'act-7',
      'vaikora/risk_score': '80',
      'vaikora/anomaly_score': '2.5',
      'vaikora/anomaly_reason': 'spike',
      'vaikora/threat_score': '0.9',
      'vaikora/log_hash': 'ff'.repeat(20),
    });
    expect(finding.Confidence).toBe(90);
    expect(finding.Types).toContain('Unusual Behaviors/Application/AI Agent Anomaly');
  });

  it('links to the console when a template is configured, with the id encoded', () => {
    const finding = mapAction(action({ id: 'a/b?c#d', risk_level: 'high' }), {
      destination,
      now,
      sourceUrlTemplate: 'https://console.vaikora.com/actions/{id}',
    });

    expect(finding.SourceUrl).toBe('https://console.vaikora.com/actions/a%2Fb%3Fc%23d');
  });

  it('UpdatedAt is never before CreatedAt, even for an action stamped in the future', () => {
    const finding = mapAction(action({ timestamp: '2027-01-01T00:00:00Z', risk_level: 'high' }), {
      destination,
      now,
    });

    expect(finding.UpdatedAt).toBe('2027-01-01T00:00:00.000Z');
    expect(validateFinding(finding).ok).toBe(true);
  });

  it('cuts hostile strings to the limits, marking the cut', () => {
    const finding = mapAction(
      action({ risk_level: 'high', description: 'x'.repeat(100_000), agent_id: 'a'.repeat(1000) }),
      {
        destination,
        now,
      },
    );

    expect(finding.Description.length).toBeLessThanOrEqual(1024);
    expect(finding.Description.endsWith('…[truncated]')).toBe(true);
    expect(finding.Title.length).toBeLessThanOrEqual(256);
    expect(validateFinding(finding).ok).toBe(true);
  });
});

describe('confirmed threats', () => {
  const floor = (label: string) => ({
    threatSeverityFloor: thresholdsSchema.parse({ threatSeverityFloor: label }).threatSeverityFloor,
  });

  it("a confirmed low-risk threat is HIGH by default, keeps Vaikora's value and carries a threat type", () => {
    const finding = mapAction(action({ threat_detected: true, risk_level: 'low', risk_score: 12 }), {
      destination,
      now,
    });

    expect(finding.Severity).toEqual({ Label: 'HIGH', Normalized: 75, Original: 'low (score 12)' });
    expect(finding.FindingProviderFields.Severity).toEqual({ Label: 'HIGH', Original: 'low (score 12)' });
    expect(finding.Types).toEqual([FINDING_TYPE, GENERIC_THREAT_TYPE]);
    expect(finding.FindingProviderFields.Types).toEqual(finding.Types);
    expect(finding.ProductFields['vaikora/severity_floor']).toBe('HIGH');
    expect(finding.Title).toBe('High-risk AI agent action action by unknown-agent (threat detected)');
    expect(validateFinding(finding).ok).toBe(true);
  });

  it.each([
    ['LOW', { risk_level: 'low' }, 'LOW', 30],
    ['MEDIUM', { risk_level: 'low' }, 'MEDIUM', 50],
    ['CRITICAL', { risk_level: 'low' }, 'CRITICAL', 95],
    ['CRITICAL', { risk_level: 'high' }, 'CRITICAL', 95],
    ['LOW', { risk_level: 'critical' }, 'CRITICAL', 95],
    ['MEDIUM', { risk_level: 'high' }, 'HIGH', 75],
    ['HIGH', { risk_score: 0 }, 'HIGH', 75],
    ['LOW', { risk_score: 0 }, 'LOW', 30],
    ['MEDIUM', { risk_score: 55 }, 'MEDIUM', 50],
    ['LOW', {}, 'HIGH', 75],
    ['CRITICAL', {}, 'CRITICAL', 95],
  ])(
    'floor %s on a threat with %j → %s/%i: the higher of the two, never lower',
    (label, fields, expected, normalized) => {
      const severity = severityFor(
        action({ threat_detected: true, ...fields }),
        floor(label).threatSeverityFloor,
      );

      expect(severity.label).toBe(expected);
      expect(severity.normalized).toBe(normalized);
    },
  );

  it('the floor leaves Original as Vaikora sent it and marks only a raised severity', () => {
    const raised = mapAction(action({ threat_detected: true, risk_score: 20 }), { destination, now });
    const notRaised = mapAction(action({ threat_detected: true, risk_level: 'critical' }), {
      destination,
      now,
    });

    expect(raised.Severity.Original).toBe('20');
    expect(raised.ProductFields['vaikora/severity_floor']).toBe('HIGH');
    expect(notRaised.Severity.Label).toBe('CRITICAL');
    expect(notRaised.ProductFields).not.toHaveProperty('vaikora/severity_floor');
  });

  it('the floor does nothing to an action that is not a confirmed threat', () => {
    const anomaly = action({ is_anomaly: true, risk_level: 'low' });

    expect(severityFor(anomaly, 'CRITICAL')).toEqual(severityFor(anomaly));
    expect(severityFor(anomaly).label).toBe('LOW');
  });

  it("the tenant's floor flows from prepareAction's thresholds, as the worker calls it", () => {
    const threat = action({ threat_detected: true, risk_level: 'medium' });
    const thresholds = thresholdsSchema.parse({ threatSeverityFloor: 'CRITICAL' });

    const outcome = prepareAction(threat, { destination, now, thresholds });

    expect(outcome.kind).toBe('finding');
    if (outcome.kind !== 'finding') return;
    expect(outcome.value.finding.Severity).toEqual({ Label: 'CRITICAL', Normalized: 95, Original: 'medium' });
    expect(outcome.value.finding.Title.startsWith('Critical-risk')).toBe(true);
  });

  it('thresholds built in code without the floor (before it existed) get the default HIGH', () => {
    const threat = action({ threat_detected: true, risk_level: 'low' });
    const thresholds = {
      minRiskLevel: 'low' as const,
      minRiskScore: null,
      includeAnomalies: true,
      includeThreats: true,
    };

    const outcome = prepareAction(threat, { destination, now, thresholds });

    expect(outcome.kind === 'finding' && outcome.value.finding.Severity.Label).toBe('HIGH');
  });

  it('keeps the existing types and adds the threat types after them', () => {
    const finding = mapAction(
      action({
        threat_detected: true,
        is_anomaly: true,
        risk_level: 'high',
        anomaly_reason: 'data exfiltration',
      }),
      { destination, now },
    );

    expect(finding.Types).toEqual([FINDING_TYPE, ANOMALY_FINDING_TYPE, THREAT_TYPES.exfiltration]);
    expect(validateFinding(finding).ok).toBe(true);
  });
});

describe("Vaikora's title", () => {
  const generated = 'High-risk AI agent action database.write by agt-sql';
  const map = (title: unknown) =>
    mapAction(action({ risk_level: 'high', agent_id: 'agt-sql', action_type: 'database.write', title }), {
      destination,
      now,
    });

  it('leads the finding title when present', () => {
    expect(map('Bulk delete on customers table').Title).toBe(`Bulk delete on customers table — ${generated}`);
  });

  it('leaves the generated title unchanged when absent', () => {
    const finding = mapAction(
      action({ risk_level: 'high', agent_id: 'agt-sql', action_type: 'database.write' }),
      {
        destination,
        now,
      },
    );

    expect(finding.Title).toBe(generated);
  });

  it.each([
    ['only whitespace', ' \t\n  ', generated],
    ['only NUL bytes and controls', '\u0000\u0000\u0007', generated],
    ['NUL bytes inside', 'drop\u0000table', `drop table — ${generated}`],
    ['padding around it', '   Data export  ', `Data export — ${generated}`],
    ['RTL override', 'invoice\u202Egpj.exe', `invoice gpj.exe — ${generated}`],
    ['line breaks', 'first\nsecond', `first second — ${generated}`],
  ])('%s', (_, title, expected) => {
    const finding = map(title);

    expect(finding.Title).toBe(expected);
    expect(validateFinding(finding).ok).toBe(true);
  });

  it('a 10 kB title is cut to 256 characters, the cut marked', () => {
    const finding = map('A'.repeat(10_000));

    expect(finding.Title).toHaveLength(256);
    expect(finding.Title).toBe(`${'A'.repeat(256 - '…[truncated]'.length)}…[truncated]`);
    expect(validateFinding(finding).ok).toBe(true);
  });

  it('a cut that lands inside an emoji never splits its surrogate pair', () => {
    for (let pad = 0; pad < 8; pad++) {
      const title = `${'x'.repeat(236 + pad)}${'🤖'.repeat(20)}`;

      const cut = map(title).Title;

      expect(cut.length).toBeLessThanOrEqual(256);
      expect(cut.isWellFormed()).toBe(true);
      expect(cut.endsWith('…[truncated]')).toBe(true);
    }
  });

  it('a long title still shows the generated part when both fit', () => {
    const title = 'T'.repeat(256 - generated.length - ' — '.length);

    expect(map(title).Title).toBe(`${title} — ${generated}`);
    expect(map(title).Title).toHaveLength(256);
  });
});

describe('network addresses', () => {
  const network = (sourceIp: string, destinationIp: string) =>
    mapAction(action({ source_ip: sourceIp, destination_ip: destinationIp }), { destination, now }).Network;

  it('keeps real IPv6 addresses, compressed, loopback and IPv4-mapped ones included', () => {
    expect(network('2001:db8::1', '::ffff:192.0.2.1')).toMatchObject({
      SourceIpV6: '2001:db8::1',
      DestinationIpV6: '::ffff:192.0.2.1',
    });
    expect(network('::1', 'fe80::1')).toMatchObject({ SourceIpV6: '::1', DestinationIpV6: 'fe80::1' });
  });

  it('drops text that only looks like IPv6: the field holds an IPv6 address or nothing', () => {
    for (const bogus of [':::', '1:2:3:4:5:6:7:8:9', '1::2::3', '::::::::', 'ffff1::1', '1.2.3.4:80']) {
      const n = network(bogus, bogus);
      expect({ bogus, v6: n?.SourceIpV6 ?? n?.DestinationIpV6 }).toEqual({ bogus, v6: undefined });
    }
  });
});

describe('mapAction: a destination in partner-product mode (ADR 0121)', () => {
  const partner: Destination = {
    accountId: '210987654321',
    region: 'eu-west-1',
    partition: 'aws',
    product: { accountId: '111122223333', name: 'data443/vaikora' },
  };

  it("names Data443's product in the destination's region and keeps the customer's account", () => {
    const finding = mapAction(action({ risk_level: 'high' }), { destination: partner, now });

    expect(finding.ProductArn).toBe('arn:aws:securityhub:eu-west-1:111122223333:product/data443/vaikora');
    expect(finding.AwsAccountId).toBe('210987654321');
    expect(validateFinding(finding).ok).toBe(true);
  });

  it('does not reuse the product ARN of the previous destination with the same account and region', () => {
    const own = mapAction(action({ risk_level: 'high' }), {
      destination: { ...partner, product: undefined },
      now,
    });
    const viaPartner = mapAction(action({ risk_level: 'high' }), { destination: partner, now });

    expect(own.ProductArn).toBe('arn:aws:securityhub:eu-west-1:210987654321:product/210987654321/default');
    expect(viaPartner.ProductArn).toContain(':product/data443/vaikora');
  });
});
