import { describe, expect, it } from 'vitest';
import { ApiError, asApiError, STATUS_OF } from '../errors.ts';
import { refusalOf } from '../ui/context.ts';
import { SERVICE_ERROR_CODES, ServiceError } from './errors.ts';

describe('the one mapping from ServiceError to the API and the pages', () => {
  it.each(SERVICE_ERROR_CODES)('answers %s with an API code, its status and the same message', (code) => {
    const refused = new ServiceError(code, `body.field: refused as ${code}`);

    const apiError = asApiError(refused);

    expect(apiError).toBeInstanceOf(ApiError);
    expect(apiError?.message).toBe(refused.message);
    expect(apiError?.status).toBe(STATUS_OF[apiError?.code ?? 'INTERNAL']);
    expect(apiError?.cause).toBe(refused);
  });

  it.each([
    ['invalid_input', 'VALIDATION_FAILED', 400],
    ['not_found', 'NOT_FOUND', 404],
    ['conflict', 'CONFLICT', 409],
    ['tenant_offboarded', 'TENANT_OFFBOARDED', 409],
    ['not_configured', 'NOT_CONFIGURED', 409],
    ['not_available', 'NOT_AVAILABLE', 409],
    ['account_mismatch', 'ACCOUNT_MISMATCH', 422],
    ['partition_mismatch', 'PARTITION_MISMATCH', 422],
    ['role_name_not_allowed', 'ROLE_NAME_NOT_ALLOWED', 422],
    ['base_url_not_allowed', 'BASE_URL_NOT_ALLOWED', 422],
    ['vaikora_verification_failed', 'VAIKORA_VERIFICATION_FAILED', 422],
    ['vaikora_key_unreadable', 'VAIKORA_KEY_UNREADABLE', 409],
    ['local_deploy_failed', 'LOCAL_DEPLOY_FAILED', 502],
  ] as const)('keeps the API code and status clients see: %s is %s (%i)', (code, apiCode, status) => {
    const apiError = asApiError(new ServiceError(code, 'refused'));

    expect({ code: apiError?.code, status: apiError?.status }).toEqual({ code: apiCode, status });
  });

  it('passes an ApiError through and leaves anything else unmapped (a 500)', () => {
    const apiError = new ApiError('FORBIDDEN', 'no');

    expect(asApiError(apiError)).toBe(apiError);
    expect(asApiError(new Error('bug'))).toBeUndefined();
    expect(asApiError('thrown text')).toBeUndefined();
  });

  it('lets a page show a refusal in place, with the API status and without the field prefix', () => {
    const refusal = refusalOf(new ServiceError('partition_mismatch', 'body.regions: all in one partition'));

    expect(refusal).toMatchObject({ message: 'all in one partition', status: 422 });
    expect(refusalOf(new ServiceError('invalid_input', 'body.to: must be before'))?.status).toBe(400);
    expect(refusalOf(new ServiceError('not_available', 'local stack only'))?.status).toBe(409);
  });

  it('sends a missing resource, an upstream failure and anything unexpected to the error page', () => {
    expect(refusalOf(new ServiceError('not_found', 'destination not found'))).toBeUndefined();
    expect(refusalOf(new ServiceError('local_deploy_failed', 'quote request id'))).toBeUndefined();
    expect(refusalOf(new ApiError('VALIDATION_FAILED', 'an HTTP error'))).toBeUndefined();
    expect(refusalOf(new Error('bug'))).toBeUndefined();
  });
});
