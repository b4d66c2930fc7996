/**
 * The customer service window (facts §5.1): a customer's message opens a 24-hour window in which
 * a session (free-form, non-template) message may go to them; another message from them starts
 * it again; our own messages, templates included, do not. Outside it only an approved template
 * may go.
 *
 * The window is kept per (sender number, customer number) in `whatsapp_customer_windows`,
 * written by `reply.route` when it takes in a customer's message (src/db/customer-windows.ts),
 * and read by `message.send` before a session message goes out. Pure; the caller passes `now`.
 */

/** How long a customer's message keeps the window open. */
export const CUSTOMER_WINDOW_MS = 24 * 3_600_000;

/** Whether a session message may go at `now`, the customer having last written at `lastInboundAt`. */
export function isWindowOpen(lastInboundAt: Date | null, now: Date): boolean {
  return lastInboundAt !== null && now.getTime() - lastInboundAt.getTime() < CUSTOMER_WINDOW_MS;
}
