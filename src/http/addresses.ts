/**
 * Client addresses: which callers a route accepts by address (WEBHOOK_ALLOWED_CIDRS), parsed once
 * at start-up. The address checked is Fastify's `request.ip`, which honours TRUST_PROXY: behind a
 * load balancer, set TRUST_PROXY to it, or every request seems to come from the balancer.
 */
import { BlockList, isIP } from 'node:net';

/** `10.0.0.0/8`, `203.0.113.7`, `2001:db8::/32`: one address or a network in CIDR notation. */
export function isCidr(text: string): boolean {
  const [address = '', bits, extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) {
    return false;
  }
  if (bits === undefined) {
    return true;
  }
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n <= (family === 4 ? 32 : 128);
}

/** A test for "is this address in one of these networks"; IPv4-mapped IPv6 counts as IPv4. */
export function addressMatcher(cidrs: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', bits] = cidr.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) {
      list.addAddress(address, type);
    } else {
      list.addSubnet(address, Number(bits), type);
    }
  }
  return (address) => {
    const plain = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
    const family = isIP(plain);
    return family !== 0 && list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  };
}
