/**
 * The platform's default template for each FDR reason, written from the product spec's message
 * texts. Seeded into `whatsapp_templates` and `whatsappTemplateVariables` at start.
 */
import type { FdrReason } from './reasons.ts';
import type { TemplateVariable } from './variables.ts';

export interface DefaultTemplate {
  /** Template id as registered with Gupshup for the platform's default app. */
  id: string;
  /** Gupshup element name. */
  name: string;
  reason: FdrReason;
  /** Body with {{n}} placeholders; parameters never hold newlines, so each sits on one line. */
  body: string;
  /** Quick-reply button titles approved with the template. */
  buttons: string[];
  /** Placeholder number → variable. */
  variables: Record<number, TemplateVariable>;
}

/**
 * Builds one default template. `variables` lists the variables in the order their placeholders
 * appear in `body`, so {{1}} is the first of them; a unit test checks the body agrees.
 */
function defaultTemplate(
  reason: FdrReason,
  body: string,
  buttons: string[],
  variables: readonly TemplateVariable[],
): DefaultTemplate {
  const id = `eshopbox_fdr_${reason}`;
  return {
    id,
    name: id,
    reason,
    body,
    buttons,
    variables: Object.fromEntries(variables.map((name, i) => [i + 1, name])),
  };
}

// The opening every message shares: "Hello {{1}}!" and the order line's first four variables.
const GREETING: readonly TemplateVariable[] = [
  'customerFirstName',
  'storeName',
  'uniqueOrderItemId',
  'noOfItemsInTheOrder',
];
// The seed lists items one per line; a parameter cannot hold a newline, so the list is one line
// (the first item's quantity, then the title holding every item: see `extractVariables`).
const ITEMS: readonly TemplateVariable[] = ['quantityOfTheItem', 'productTitle'];
const CLOSING = 'Please choose your desired action';

const REATTEMPT = 'Reattempt delivery';
const NEW_DATE = 'Select new delivery date';
const CANCEL = 'Cancel my order';
const CONCERN = 'Raise a concern';
const UPDATE_ADDRESS = 'Update my address';
const ALTERNATE_NUMBER = 'Add alternate number';

/** Wording from the product spec's "Type of FDR" table; typos fixed ("as as"). */
export const DEFAULT_TEMPLATES: DefaultTemplate[] = [
  defaultTemplate(
    'customer_unreachable',
    "Hello {{1}}!\n\nYour {{2}} order ID {{3}} having {{4}} items couldn't be delivered as your number ({{5}}) was unreachable. Please provide an alternate contact number for better connectivity.\n\nItem(s) included in the order: {{6}} {{7}}\n\n" +
      CLOSING,
    [ALTERNATE_NUMBER, NEW_DATE, CONCERN],
    [...GREETING, 'customerMobileNumber', ...ITEMS],
  ),
  defaultTemplate(
    'address_issue',
    'Hello {{1}}!\n\nYour {{2}} order with ID {{3}}, consisting of {{4}} items, could not be delivered as the address provided by you is incomplete or incorrect. Please update your delivery address.\n\nItem(s) included in the order: {{5}} {{6}}\n\nDelivery address: {{7}}\n\n' +
      CLOSING,
    [UPDATE_ADDRESS, CONCERN],
    [...GREETING, ...ITEMS, 'deliveryAddress'],
  ),
  defaultTemplate(
    'rejected_by_customer',
    "Hello {{1}}!\n\nYour {{2}} order ID {{3}} having {{4}} items couldn't be delivered as you refused to accept it.\n\nItem(s) included in the order: {{5}} {{6}}\n\n" +
      CLOSING,
    [REATTEMPT, CANCEL, CONCERN],
    [...GREETING, ...ITEMS],
  ),
  defaultTemplate(
    'customer_unavailable',
    "Hello {{1}}!\n\nYour {{2}} order ID {{3}} having {{4}} items couldn't be delivered as you were not available at the time of delivery.\n\nItem(s) included in the order: {{5}} {{6}}\n\n" +
      CLOSING,
    [REATTEMPT, NEW_DATE, CONCERN],
    [...GREETING, ...ITEMS],
  ),
  defaultTemplate(
    'delivery_rescheduled',
    "Hello {{1}}!\n\nYour {{2}} order ID {{3}} having {{4}} items couldn't be delivered as you requested a future delivery.\n\nItem(s) included in the order: {{5}} {{6}}\n\n" +
      CLOSING,
    [REATTEMPT, NEW_DATE, CONCERN],
    [...GREETING, ...ITEMS],
  ),
  defaultTemplate(
    'oda',
    "Hello {{1}}!\n\nYour {{2}} order ID {{3}} having {{4}} items couldn't be delivered as your delivery address is not within the serviceable area.\n\nItem(s) included in the order: {{5}} {{6}}\n\n" +
      CLOSING,
    [UPDATE_ADDRESS, CANCEL, CONCERN],
    [...GREETING, ...ITEMS],
  ),
  defaultTemplate(
    'payment_issue',
    "Hello {{1}}!\n\nYour {{2}} order ID {{3}} having {{4}} items couldn't be delivered due to a payment issue.\n\nAmount to be paid - Rs {{5}}\n\nItem(s) included in the order: {{6}} {{7}}\n\n" +
      CLOSING,
    [REATTEMPT, CANCEL, CONCERN],
    [...GREETING, 'amountToBePaid', ...ITEMS],
  ),
  defaultTemplate(
    'otp_cancellation',
    "Hello {{1}}!\n\nYour {{2}} order ID {{3}} having {{4}} items couldn't be delivered as you requested to cancel this order.\n\nItem(s) included in the order: {{5}} {{6}}\n\n" +
      CLOSING,
    [REATTEMPT, CANCEL, CONCERN],
    [...GREETING, ...ITEMS],
  ),
  defaultTemplate(
    'open_delivery',
    "Hello {{1}}!\n\nYour {{2}} order with ID {{3}} having {{4}} items couldn't be delivered. We would like to clarify that we do not support open delivery, but we assure you that the product will be in good condition. If you encounter any issues with your order, please do not hesitate to contact our customer support team at {{5}} or via email at {{6}}.\n\nItem(s) included in the order: {{7}} {{8}}\n\n" +
      CLOSING,
    [REATTEMPT, CANCEL, CONCERN],
    [...GREETING, 'supportContactNumber', 'supportEmailAddress', ...ITEMS],
  ),
];
