/** `npm run db:migrate`: create the database, apply migrations and seed defaults, then exit. */
import { loadConfig } from '../config.ts';
import { createLog } from '../log.ts';
import { prepareDatabase } from './migrate.ts';

const config = loadConfig();
await prepareDatabase(config.DATABASE_URL, createLog(config.LOG_LEVEL));
