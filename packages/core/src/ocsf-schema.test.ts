import { ocsfSchema } from '@vsh/fixtures';
import { describe, expect, it } from 'vitest';
import { compileOcsfClass } from './ocsf-schema.test-support.ts';

const schema = ocsfSchema();
const checker = compileOcsfClass(schema, 'detection_finding');

/** The smallest Detection Finding the schema accepts: every required attribute, nothing else. */
function minimal(): Record<string, unknown> {
  return {
    activity_id: 1,
    category_uid: 2,
    class_uid: 2004,
    type_uid: 200401,
    severity_id: 3,
    time: 1_764_547_200_000,
    metadata: { version: '1.6.0', product: { name: 'Vaikora AI Agent Security' } },
    finding_info: { uid: 'vaikora-act-1' },
  };
}

describe('the OCSF checker compiled from the vendored 1.6.0 schema', () => {
  it('reads the vendored schema and computes the class and category ids from it', () => {
    expect(schema.version).toBe('1.6.0');
    expect(checker.classUid).toBe(2004);
    expect(checker.categoryUid).toBe(2);
  });

  it('accepts a minimal Detection Finding', () => {
    expect(checker.check(minimal())).toEqual([]);
  });

  it.each([
    ['finding_info', '$.finding_info: required attribute missing'],
    ['metadata', '$.metadata: required attribute missing'],
    ['time', '$.time: required attribute missing'],
    ['severity_id', '$.severity_id: required attribute missing'],
  ])('rejects a Detection Finding without the required %s', (name, error) => {
    const { [name]: _removed, ...event } = minimal();

    expect(checker.check(event)).toContain(error);
  });

  it('rejects a required attribute missing in a nested object (finding_info.uid, metadata.version)', () => {
    const event = { ...minimal(), finding_info: { title: 't' }, metadata: { product: { name: 'p' } } };

    expect(checker.check(event)).toEqual(
      expect.arrayContaining([
        '$.finding_info.uid: required attribute missing',
        '$.metadata.version: required attribute missing',
      ]),
    );
  });

  it('rejects attributes the class or an object does not define, and profile attributes (no profile applied)', () => {
    const event = {
      ...minimal(),
      bogus: 1,
      // From the cloud profile, which base_event $includes: unknown when no profile is applied.
      cloud: { provider: 'AWS' },
      finding_info: { uid: 'x', agent_name: 'a' },
    };

    expect(checker.check(event)).toEqual(
      expect.arrayContaining([
        '$.bogus: not an attribute of detection_finding',
        '$.cloud: not an attribute of detection_finding',
        '$.finding_info.agent_name: not an attribute of finding_info',
      ]),
    );
  });

  it('rejects values outside an enum, including the computed class, category and type ids', () => {
    const event = {
      ...minimal(),
      severity_id: 7,
      activity_id: 4,
      class_uid: 2005,
      category_uid: 3,
      type_uid: 200404,
    };

    expect(checker.check(event)).toEqual(
      expect.arrayContaining([
        '$.severity_id: 7 not in enum',
        '$.activity_id: 4 not in enum',
        '$.class_uid: 2005 not in enum',
        '$.category_uid: 3 not in enum',
        '$.type_uid: 200404 not in enum',
      ]),
    );
  });

  it('rejects a sibling caption that is not its id’s, unless the id is Other (99)', () => {
    expect(checker.check({ ...minimal(), severity_id: 3, severity: 'High' })).toEqual([
      '$.severity: not the caption of severity_id 3 (Medium)',
    ]);
    expect(checker.check({ ...minimal(), severity_id: 99, severity: 'Vaikora-special' })).toEqual([]);
  });

  it('rejects wrong types: strings, integers, timestamps, arrays, objects, derived types', () => {
    const event = {
      ...minimal(),
      time: '2026-12-01T00:00:00Z',
      message: 42,
      risk_score: 1.5,
      is_alert: 'yes',
      resources: { uid: 'r' },
      finding_info: { uid: 'x', types: 'one', created_time: 1.25 },
      evidences: [{ src_endpoint: { ip: 'not-an-ip' } }],
    };

    expect(checker.check(event)).toEqual(
      expect.arrayContaining([
        '$.time: expected timestamp_t',
        '$.message: expected string_t',
        '$.risk_score: expected integer_t',
        '$.is_alert: expected boolean_t',
        '$.resources: expected array',
        '$.finding_info.types: expected array',
        '$.finding_info.created_time: expected timestamp_t',
        '$.evidences[0].src_endpoint.ip: does not match ip_t',
      ]),
    );
  });

  it('applies object constraints inherited through extends (_entity: at least one of name, uid)', () => {
    const event = { ...minimal(), resources: [{ type: 'AI Agent' }], evidences: [{ name: 'nothing' }] };

    expect(checker.check(event)).toEqual(
      expect.arrayContaining([
        '$.resources[0]: needs at least one of name, uid',
        expect.stringMatching(/^\$\.evidences\[0\]: needs at least one of actor, api/),
      ]),
    );
  });

  it('rejects deprecated attributes', () => {
    const event = { ...minimal(), evidences: [{ actor: { app_name: 'a', invoked_by: 'x' } }] };

    expect(checker.check(event)).toContain('$.evidences[0].actor.invoked_by: deprecated');
  });
});
