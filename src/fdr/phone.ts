/**
 * Customer phone numbers as the WMS stores them ("7891971009", "+91 78919 71009", …) turned into
 * the form Gupshup's `send_to` takes (country code + national number, digits only) and the form
 * shown to the customer in a template (national number).
 *
 * Uses libphonenumber-js's default ("min") metadata: it checks number length and leading digits
 * per country, which is enough to reject junk. It cannot tell mobile from landline; Gupshup
 * reports a number without WhatsApp as a failed delivery report.
 */
import {
  isSupportedCountry,
  parsePhoneNumberFromString,
  type CountryCode,
  type PhoneNumber,
} from 'libphonenumber-js';

const FALLBACK_COUNTRY: CountryCode = 'IN';

/**
 * The country to read national numbers in. Callers pass the shipping address's `countryCode`,
 * which may be empty or lower-case; a code libphonenumber does not know means India, where every
 * seed shipment ships.
 */
function toCountryCode(country: string): CountryCode {
  const code = country.trim().toUpperCase();
  return isSupportedCountry(code) ? code : FALLBACK_COUNTRY;
}

function parseValid(raw: string | null | undefined, country: string): PhoneNumber | null {
  const text = raw?.trim();
  if (!text) {
    return null;
  }
  const defaultCountry = toCountryCode(country);
  const parsed = parsePhoneNumberFromString(text, defaultCountry);
  if (parsed?.isValid()) {
    return parsed;
  }
  // "0917891971009": a trunk 0 typed before the country code. libphonenumber reads the digits
  // after the 0 as a national number and finds it too long; without the leading zeros it is
  // "917891971009", which it reads as +91 7891971009.
  const digits = text.replace(/\D/g, '');
  if (!text.startsWith('+') && /^0+[1-9]/.test(digits)) {
    const retried = parsePhoneNumberFromString(digits.replace(/^0+/, ''), defaultCountry);
    if (retried?.isValid()) {
      return retried;
    }
  }
  return null;
}

/** Country code + national number, digits only ("917891971009"); null when not a valid number. */
export function normalizePhone(
  raw: string | null | undefined,
  defaultCountry = 'IN',
): string | null {
  const phone = parseValid(raw, defaultCountry);
  return phone ? `${phone.countryCallingCode}${phone.nationalNumber}` : null;
}

/** The national number for display ("7891971009"); null when not a valid number. */
export function nationalNumber(
  raw: string | null | undefined,
  defaultCountry = 'IN',
): string | null {
  return parseValid(raw, defaultCountry)?.nationalNumber ?? null;
}
