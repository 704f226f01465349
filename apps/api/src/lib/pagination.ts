import { z } from '@hono/zod-openapi';

/** Query parameters of every list: a page size and an opaque cursor from the previous page. */
export const pageQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(20)
    .openapi({ param: { name: 'limit', in: 'query' }, example: 20 }),
  cursor: z
    .string()
    .max(200)
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' }, description: 'nextCursor of the previous page' }),
});

/** The documented 200 answer of a list: a page of `item` and the cursor of the next page. */
export function pageResponse<T extends z.ZodType>(description: string, item: T) {
  return {
    description,
    content: {
      'application/json': { schema: z.object({ items: z.array(item), nextCursor: z.string().nullable() }) },
    },
  };
}
