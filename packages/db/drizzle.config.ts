import { defineConfig } from 'drizzle-kit';

// Only `generate` is used: migrations are committed and applied by `migrate(db)`, never pushed.
// biome-ignore lint/style/noDefaultExport: drizzle-kit reads its configuration from the default export.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema/index.ts',
  out: './drizzle',
  strict: true,
  verbose: true,
});
