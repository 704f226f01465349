import { CodedError } from '@vsh/core';
import { describe, expect, it } from 'vitest';
import { FaultProxyError, startFaultProxy } from './fault-proxy.ts';

describe('startFaultProxy options', () => {
  it('rejects invalid options with a FaultProxyError naming the problem', async () => {
    const attempt = startFaultProxy({
      upstream: 'http://127.0.0.1:1',
      rules: { errors: [{ rate: 1.5 }] },
    });

    await expect(attempt).rejects.toBeInstanceOf(FaultProxyError);
    await expect(attempt).rejects.toMatchObject({
      code: 'invalid_options',
      message: expect.stringMatching(/rate/),
    });
  });

  it('requires an upstream unless Security Hub is served from memory', async () => {
    await expect(startFaultProxy({})).rejects.toMatchObject({ code: 'invalid_options' });
  });

  it('requires failedFindings rules to choose findings', async () => {
    const attempt = startFaultProxy({
      securityHub: 'memory',
      rules: { failedFindings: [{ errorCode: 'X' }] },
    });

    await expect(attempt).rejects.toMatchObject({ message: expect.stringMatching(/ids or when/) });
  });
});

describe('FaultProxyError', () => {
  it('is a CodedError with its name and code', () => {
    const error = new FaultProxyError('listen_failed', 'EADDRINUSE');

    expect(error).toBeInstanceOf(CodedError);
    expect(error).toMatchObject({ name: 'FaultProxyError', code: 'listen_failed', message: 'EADDRINUSE' });
  });
});
