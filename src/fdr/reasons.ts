/**
 * The nine failed-delivery (FDR) reasons the service messages customers about. The keys are the
 * `notification_type` values of `poe_channel_notifications` and the keys of the settings API.
 */
export const FDR_REASONS = [
  'customer_unreachable',
  'address_issue',
  'rejected_by_customer',
  'customer_unavailable',
  'delivery_rescheduled',
  'oda',
  'payment_issue',
  'otp_cancellation',
  'open_delivery',
] as const;

export type FdrReason = (typeof FDR_REASONS)[number];

export const FDR_REASON_LABELS: Record<FdrReason, string> = {
  customer_unreachable: 'Customer Unreachable',
  address_issue: 'Address Issue',
  rejected_by_customer: 'Rejected by the Customer',
  customer_unavailable: 'Customer Unavailable',
  delivery_rescheduled: 'Delivery Rescheduled',
  oda: 'ODA (out of delivery area)',
  payment_issue: 'Payment Issue',
  otp_cancellation: 'OTP-based Cancellation',
  open_delivery: 'Open Delivery',
};

export function isFdrReason(value: string): value is FdrReason {
  return (FDR_REASONS as readonly string[]).includes(value);
}
