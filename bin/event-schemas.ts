/**
 * Writes docs/events/<type>.schema.json, the JSON Schema (2020-12) of each lifecycle event's detail,
 * from the zod schemas that type the publisher (functions/core/lifecycle-events.ts):
 * `npm run events:schemas` (which then formats them with biome). test/core/lifecycle-events.test.ts
 * fails when the committed files are stale.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventSchemaFiles } from '../functions/core/lifecycle-events.ts';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/events');
mkdirSync(dir, { recursive: true });
for (const { file, text } of eventSchemaFiles()) {
  writeFileSync(path.join(dir, file), text);
  process.stdout.write(`wrote docs/events/${file}\n`);
}
