/**
 * Fills a template: the eleven variables are read from the FDR event and the account's settings
 * (`extractVariables`), then substituted into a body through the template's placeholder mapping
 * (`renderTemplate`). Gupshup's enterprise API takes the finished text and matches it against the
 * approved template, so what this returns is exactly what the customer reads.
 */
import type { FdrEvent, FdrItem } from './event.ts';
import { nationalNumber } from './phone.ts';
import type { TemplateVariable } from './variables.ts';

/** WhatsApp's limit on a template body, in characters. */
export const MAX_BODY_LENGTH = 1024;

/**
 * Makes a value fit for a WhatsApp template parameter, which may hold no newline, no tab and no
 * run of more than four spaces (Meta rejects the message otherwise): every whitespace run becomes
 * one space.
 */
export function sanitizeParam(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

export interface VariableSettings {
  storeName?: string | null;
  supportContactNumber?: string | null;
  supportEmailAddress?: string | null;
}

/** The first of the values that holds more than whitespace, trimmed; '' when there is none. */
function firstText(...values: (string | null | undefined)[]): string {
  for (const value of values) {
    const text = value?.trim();
    if (text) {
      return text;
    }
  }
  return '';
}

/** An item line without a quantity still holds one unit. */
function quantityOf(item: FdrItem): number {
  return item.quantity ?? 1;
}

function titleOf(item: FdrItem): string {
  return item.productName?.trim() ?? '';
}

/**
 * `quantityOfTheItem` and `productTitle` for a shipment of any size. Templates have one item line,
 * "{{q}} {{t}}", and a parameter cannot hold a newline, so the first item fills both variables and
 * every further item is appended to the title as ", <qty> <title>". Three items then read
 * "1 Red t-shirt, 1 casual shoes, 2 Qute 12 Powerful Personal Table Air Cooler with USB".
 */
function describeItems(items: readonly FdrItem[]): { quantity: string; title: string } {
  const [first, ...rest] = items.filter((item) => titleOf(item) !== '');
  if (!first) {
    return { quantity: '', title: '' };
  }
  const others = rest.map((item) => `, ${quantityOf(item)} ${titleOf(item)}`).join('');
  return { quantity: String(quantityOf(first)), title: `${titleOf(first)}${others}` };
}

/** "addressLine1, addressLine2, city, state - postalCode", skipping the parts that are empty. */
function formatAddress(address: NonNullable<FdrEvent['response_data']['shippingAddress']>): string {
  const parts = [address.addressLine1, address.addressLine2, address.city, address.state]
    .map((part) => firstText(part))
    .filter((part) => part !== '');
  const postalCode = firstText(address.postalCode);
  if (!postalCode) {
    return parts.join(', ');
  }
  return parts.length ? `${parts.join(', ')} - ${postalCode}` : postalCode;
}

const RUPEES = new Intl.NumberFormat('en-IN', {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

function isCashOnDelivery(data: FdrEvent['response_data']): boolean {
  const flag = data.isCOD;
  if (flag === true || flag === 1 || (typeof flag === 'string' && flag.trim() === '1')) {
    return true;
  }
  return /cash\s+on\s+delivery/i.test(data.paymentType ?? '');
}

/**
 * What the customer pays at the door: for a cash-on-delivery shipment the sum of the items'
 * invoice totals (falling back to the line total, then the customer price), else "0.00". A COD
 * shipment with no amount at all gives '' so that a template showing it fails as
 * `missing_variable` rather than asking for "Rs 0.00".
 */
function amountToBePaid(data: FdrEvent['response_data']): string {
  if (!isCashOnDelivery(data)) {
    return RUPEES.format(0);
  }
  let paise = 0;
  let known = false;
  for (const item of data.items) {
    const amount = item.invoiceTotal ?? item.lineItemTotal ?? item.customerPrice;
    if (amount != null) {
      // Summed in paise: the WMS sends floats such as 1889.0999999999999.
      paise += Math.round(amount * 100);
      known = true;
    }
  }
  return known ? RUPEES.format(paise / 100) : '';
}

/**
 * Every template variable for one event. A value that cannot be found is '', which
 * `renderTemplate` reports as `missing_variable` only if the template uses it.
 */
export function extractVariables(
  event: FdrEvent,
  settings: VariableSettings,
  defaultCountry = 'IN',
): Record<TemplateVariable, string> {
  const data = event.response_data;
  const address = data.shippingAddress;
  const items = describeItems(data.items);
  const itemCount = data.items.reduce((sum, item) => sum + quantityOf(item), 0);
  const phone =
    [data.customerContactNumber, address?.contactPhone]
      .map((raw) => nationalNumber(raw, defaultCountry))
      .find((n) => n !== null) ?? '';

  const values: Record<TemplateVariable, string> = {
    customerFirstName: firstText(address?.customerName, data.customerName).split(/\s+/)[0] ?? '',
    storeName: firstText(
      settings.storeName,
      event.accountSlug,
      event.account_slug,
      data.account_slug,
    ),
    uniqueOrderItemId: firstText(data.customerOrderNumber, data.vendorOrderNumber),
    noOfItemsInTheOrder: data.items.length ? String(itemCount) : '',
    customerMobileNumber: phone,
    quantityOfTheItem: items.quantity,
    productTitle: items.title,
    deliveryAddress: address ? formatAddress(address) : '',
    amountToBePaid: amountToBePaid(data),
    supportContactNumber: firstText(settings.supportContactNumber),
    supportEmailAddress: firstText(settings.supportEmailAddress),
  };
  for (const name of Object.keys(values) as TemplateVariable[]) {
    values[name] = sanitizeParam(values[name]);
  }
  return values;
}

export type PlaceholderMapping =
  ReadonlyMap<number, TemplateVariable> | Readonly<Record<number, TemplateVariable>>;

export type RenderResult =
  | {
      ok: true;
      text: string;
      /** Placeholder number → the value put there (after any shortening), for var1..varN sends. */
      params: Record<number, string>;
    }
  | { ok: false; code: 'missing_variable' | 'unmapped_placeholder' | 'too_long'; reason: string };

function isMap(mapping: PlaceholderMapping): mapping is ReadonlyMap<number, TemplateVariable> {
  return mapping instanceof Map;
}

const PLACEHOLDER = /\{\{(\d+)\}\}/g;

/** Variables that may be cut to fit the length limit, in the order they are cut. */
const SHORTENABLE: readonly TemplateVariable[] = ['productTitle', 'deliveryAddress'];
/** A shortened value keeps at least this many characters before its '…'. */
const MIN_SHORTENED_LENGTH = 10;

/**
 * Cuts `value` by at least `excess` characters, ending it with '…', but keeps at least
 * MIN_SHORTENED_LENGTH characters. Returns the value unchanged when it is too short to gain.
 */
function shorten(value: string, excess: number): string {
  const chars = Array.from(value);
  const keep = Math.max(MIN_SHORTENED_LENGTH, chars.length - excess - 1);
  if (keep + 1 >= chars.length) {
    return value;
  }
  // Trailing separators would read badly before the ellipsis ("shoes, …").
  const kept = chars
    .slice(0, keep)
    .join('')
    .replace(/[\s,;-]+$/, '');
  return `${kept}…`;
}

/**
 * Substitutes every {{n}} in `body` with the sanitised value of its mapped variable. A body longer
 * than WhatsApp's 1024 characters is brought under the limit by shortening the product list,
 * then the address; if that is not enough the result is `too_long`. Length is counted in UTF-16
 * code units, which never undercounts characters.
 */
export function renderTemplate(
  body: string,
  mapping: PlaceholderMapping,
  values: Record<TemplateVariable, string>,
): RenderResult {
  // Every occurrence, in order; a placeholder may appear more than once.
  const occurrences = Array.from(body.matchAll(PLACEHOLDER), (m) => Number(m[1]));
  const slots = new Map<number, TemplateVariable | undefined>(
    occurrences.map((n) => [n, isMap(mapping) ? mapping.get(n) : mapping[n]]),
  );

  const unmapped = [...slots].filter(([, name]) => name === undefined).map(([n]) => `{{${n}}}`);
  if (unmapped.length) {
    return {
      ok: false,
      code: 'unmapped_placeholder',
      reason: `no variable is mapped to ${unmapped.join(', ')}`,
    };
  }

  const current = new Map<TemplateVariable, string>();
  for (const name of slots.values()) {
    if (name !== undefined) {
      current.set(name, sanitizeParam(values[name]));
    }
  }
  const missing = [...current].filter(([, value]) => value === '').map(([name]) => name);
  if (missing.length) {
    return { ok: false, code: 'missing_variable', reason: `no value for ${missing.join(', ')}` };
  }

  const valueAt = (n: number): string => {
    const name = slots.get(n);
    return name === undefined ? '' : (current.get(name) ?? '');
  };
  const fill = () => body.replace(PLACEHOLDER, (_, n: string) => valueAt(Number(n)));

  let text = fill();
  for (const name of SHORTENABLE) {
    const value = current.get(name);
    if (text.length <= MAX_BODY_LENGTH || value === undefined) {
      continue;
    }
    // Each occurrence of the variable gives back what is cut from it.
    const uses = occurrences.filter((n) => slots.get(n) === name).length;
    current.set(name, shorten(value, Math.ceil((text.length - MAX_BODY_LENGTH) / uses)));
    text = fill();
  }
  if (text.length > MAX_BODY_LENGTH) {
    return {
      ok: false,
      code: 'too_long',
      reason: `the rendered body has ${text.length} characters, over WhatsApp's ${MAX_BODY_LENGTH}`,
    };
  }
  const params: Record<number, string> = {};
  for (const n of slots.keys()) {
    params[n] = valueAt(n);
  }
  return { ok: true, text, params };
}
