import { createDestinationRegistry, createRateLimiterRegistry } from '@vsh/aws';
import { describe, expect, it } from 'vitest';
import { destinationImporters } from './runtime.ts';

describe('destinationImporters', () => {
  it("creates a destination's Security Hub client at its first import, not before (an idle run creates none)", async () => {
    const registry = createDestinationRegistry({
      masterCredentials: { accessKeyId: 'a', secretAccessKey: 's' },
    });
    const importers = destinationImporters(registry, createRateLimiterRegistry());
    const importer = importers({
      tenantId: 'ten_1',
      destination: { accountId: '111111111111', region: 'us-east-1', partition: 'aws' },
      roleArn: 'arn:aws:iam::111111111111:role/VaikoraSecurityHubImport',
      externalId: 'x'.repeat(32),
    });
    const idle = registry.size;

    await importer.importFindings([]);

    expect(idle).toBe(0);
    expect(registry.size).toBe(1);
    registry.destroy();
  });
});
