import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { activityCharts, niceMax } from './chart.ts';
import type { ActivityBucket } from './data.ts';
import { countsInWords, securityHubFindingUrl } from './status.ts';

const hours = (values: Array<Partial<ActivityBucket>>): ActivityBucket[] =>
  values.map((v, i) => ({
    start: new Date(Date.UTC(2026, 0, 1, i)),
    runs: 0,
    imported: 0,
    rejected: 0,
    maxLagSeconds: null,
    ...v,
  }));

describe('activity charts', () => {
  it.each([
    ['an empty day', hours(Array.from({ length: 24 }, () => ({})))],
    ['one busy hour', hours([{ runs: 12, imported: 340, rejected: 7, maxLagSeconds: 95 }, {}, {}])],
    [
      'titles with markup',
      hours([
        { runs: 1, imported: 1, maxLagSeconds: 1 },
        { runs: 1, maxLagSeconds: 9000 },
      ]),
    ],
  ])('draws %s as two valid, titled SVGs and a table of the same numbers', async (_name, buckets) => {
    const markup = (await activityCharts(buckets)).toString();

    const svgs = markup.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(2);
    for (const svg of svgs) expect(XMLValidator.validate(svg)).toBe(true);
    expect(markup.match(/<tr><th scope="row">/g)).toHaveLength(buckets.length);
    expect(markup).not.toContain('style=');
  });

  it.each([
    [0, 1],
    [1, 1],
    [3, 5],
    [7, 10],
    [120, 200],
    [501, 1000],
  ])('rounds an axis maximum of %d up to %d', (max, nice) => {
    expect(niceMax(max)).toBe(nice);
  });
});

describe('status page words and links', () => {
  it('links a finding to the Security Hub console of its region and partition, its id encoded twice', () => {
    expect(securityHubFindingUrl('us-east-1', 'vaikora-act-1')).toBe(
      'https://us-east-1.console.aws.amazon.com/securityhub/home?region=us-east-1#/findings?search=Id%3D%255Coperator%255C%253AEQUALS%255C%253Avaikora-act-1',
    );
    expect(securityHubFindingUrl('us-gov-west-1', 'a b')).toMatch(
      /^https:\/\/console\.amazonaws-us-gov\.com\/securityhub\/home\?region=us-gov-west-1#\/findings\?search=.*a%2520b$/,
    );
    expect(securityHubFindingUrl('cn-north-1', 'x')).toMatch(/^https:\/\/console\.amazonaws\.cn\//);
  });

  it('says what a run did in parts that add up, and nothing for runs recorded before itemised counts', () => {
    expect(
      countsInWords({ read: 12, alreadySent: 10, skipped: 0, rejected: 0, imported: 2, notSent: 0 }),
    ).toBe('12 actions read; 10 already handled by an earlier run; 2 imported');
    expect(
      countsInWords({
        read: 5,
        alreadySent: 0,
        otherAgent: 3,
        skipped: 0,
        rejected: 0,
        imported: 2,
        notSent: 0,
      }),
    ).toBe('5 actions read; 3 of agents not routed to this account; 2 imported');
    expect(countsInWords({ imported: 2, rejected: 0, skipped: 1 })).toBeNull();
  });
});
