import { type Database, type Transaction, type VaikoraSettings, vaikoraSettings } from '@vsh/db';
import { eq } from 'drizzle-orm';

/** A tenant's Vaikora settings row (with the sealed key), or undefined before they are set. */
export async function findVaikoraSettings(
  db: Database | Transaction,
  tenantId: string,
): Promise<VaikoraSettings | undefined> {
  const [row] = await db
    .select()
    .from(vaikoraSettings)
    .where(eq(vaikoraSettings.tenantId, tenantId))
    .limit(1);
  return row;
}

/** Whether the tenant has Vaikora settings at all (a run has nothing to read without them). */
export async function vaikoraConfigured(db: Database | Transaction, tenantId: string): Promise<boolean> {
  return (await findVaikoraSettings(db, tenantId)) !== undefined;
}

/** The agents of the tenant's Vaikora settings; empty before Vaikora is connected. */
export async function vaikoraAgents(db: Database | Transaction, tenantId: string): Promise<string[]> {
  return (await findVaikoraSettings(db, tenantId))?.agentIds ?? [];
}
