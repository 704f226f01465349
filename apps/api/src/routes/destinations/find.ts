import { type AwsDestination, awsDestinations, type Database, type Transaction } from '@vsh/db';
import { and, eq } from 'drizzle-orm';
import { ApiError } from '../../errors.ts';

/** The destination with this id of this tenant (both in the WHERE clause), or NOT_FOUND. */
export async function findDestination(
  db: Database | Transaction,
  tenantId: string,
  destinationId: string,
): Promise<AwsDestination> {
  const [row] = await db
    .select()
    .from(awsDestinations)
    .where(and(eq(awsDestinations.id, destinationId), eq(awsDestinations.tenantId, tenantId)))
    .limit(1);
  if (row === undefined) throw new ApiError('NOT_FOUND', 'destination not found');
  return row;
}
