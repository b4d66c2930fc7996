/**
 * Structured JSON logs (pino). Personal data never belongs in a log line: log ids (shipment,
 * job, outbox, Gupshup message) instead. As a second line of defence the fields below are
 * redacted wherever they appear.
 */
import { pino, type Logger } from 'pino';

export type Log = Logger;

export const REDACT_PATHS = [
  'password',
  '*.password',
  'userid',
  '*.userid',
  'phone',
  '*.phone',
  'mobile',
  '*.mobile',
  'to',
  '*.to',
  'sendTo',
  '*.sendTo',
  'address',
  '*.address',
  'customerName',
  '*.customerName',
  'req.headers.authorization',
  'req.headers["x-webhook-token"]',
  'req.query.token',
];

export function createLog(level: string, destination?: pino.DestinationStream): Log {
  return pino(
    {
      level,
      base: { service: 'whatsapp-notifications' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
