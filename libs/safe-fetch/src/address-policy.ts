import ipaddr from 'ipaddr.js';
import { isIP } from 'node:net';

/**
 * Whether a user-given URL may reach an address. Only plainly global unicast is allowed: everything a
 * request could use to reach the host itself, the cluster network, a cloud metadata service or a
 * translator in front of them is refused.
 */
export type AddressVerdict =
  | { readonly allowed: true; readonly address: string; readonly range: 'unicast' }
  | { readonly allowed: false; readonly address: string; readonly range: string };

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
// RFC 6052 well-known prefix: DNS64 hands these out for v4-only names, so an IPv6-only deployment
// needs them to reach the public v4 internet; what they translate to decides.
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

/** Classifies an IP address (v4 or v6, in any spelling a URL accepts); anything else is refused. */
export function classifyAddress(address: string): AddressVerdict {
  const bare = unbracket(address.trim());
  // A zone index only exists for link-scoped addresses.
  if (bare.includes('%') && isIP(bare) === 6) {
    return { allowed: false, address, range: 'scoped (zone index)' };
  }
  const canonical = canonicalIp(bare);
  if (canonical === null) return { allowed: false, address, range: 'not an IP address' };
  return classifyParsed(address, ipaddr.parse(canonical));
}

/**
 * The address as the WHATWG URL parser spells it ('2130706433' → '127.0.0.1', '::127.0.0.1' →
 * '::7f00:1'), or null if it is none. ipaddr.js reads '::a.b.c.d' as IPv4-mapped where the URL parser
 * and the socket layer read IPv4-compatible, so only canonical text reaches it.
 */
function canonicalIp(bare: string): string | null {
  if (bare === '' || /[/?#@\s%[\]]/.test(bare)) return null;
  const hostname = URL.parse(`http://${bare.includes(':') ? `[${bare}]` : bare}/`)?.hostname;
  if (hostname === undefined) return null;
  const unbracketed = unbracket(hostname);
  return isIP(unbracketed) === 0 ? null : unbracketed;
}

function classifyParsed(address: string, ip: ipaddr.IPv4 | ipaddr.IPv6): AddressVerdict {
  if (ip instanceof ipaddr.IPv4) {
    const range = ip.range();
    return range === 'unicast' ? { allowed: true, address, range } : { allowed: false, address, range };
  }
  const v6: ipaddr.IPv6 = ip;
  const range = v6.range();
  switch (range) {
    case 'ipv4Mapped':
      return embedded(address, 'IPv4-mapped', v6.toIPv4Address());
    case 'rfc6052':
      // The local-use prefix 64:ff9b:1::/48 fronts a site's own translator, which may reach anything.
      return v6.match(NAT64_WELL_KNOWN)
        ? embedded(address, 'NAT64', v4FromParts(v6.parts[6], v6.parts[7]))
        : { allowed: false, address, range: 'local-use NAT64' };
    case '6to4':
      return embedded(address, '6to4', v4FromParts(v6.parts[1], v6.parts[2]));
    case 'unicast':
      if (v6.match(GLOBAL_UNICAST_V6)) return { allowed: true, address, range };
      // ::/96 is the deprecated IPv4-compatible form, which some stacks still route as v4.
      return {
        allowed: false,
        address,
        range: v6.parts.slice(0, 6).every((p) => p === 0) ? 'IPv4-compatible' : 'not global unicast',
      };
    default:
      return { allowed: false, address, range };
  }
}

function embedded(address: string, form: string, v4: ipaddr.IPv4): AddressVerdict {
  const inner = classifyParsed(v4.toString(), v4);
  return inner.allowed
    ? { allowed: true, address, range: 'unicast' }
    : { allowed: false, address, range: `${form} ${inner.range} (${v4.toString()})` };
}

function v4FromParts(high: number | undefined, low: number | undefined): ipaddr.IPv4 {
  const h = high ?? 0;
  const l = low ?? 0;
  return new ipaddr.IPv4([h >> 8, h & 0xff, l >> 8, l & 0xff]);
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** One canonical spelling per address, so '::ffff:127.0.0.1', '[::1]' and '0:0::1' compare as intended. */
export function canonicalAddress(address: string): string | null {
  const canonical = canonicalIp(unbracket(address.trim()));
  return canonical === null ? null : ipaddr.process(canonical).toNormalizedString();
}

/** Hostnames compare case-insensitively and without the trailing dot of a fully-qualified name. */
export function canonicalHostname(hostname: string): string {
  return unbracket(hostname.trim().toLowerCase()).replace(/\.+$/, '');
}

interface AllowEntry {
  readonly host: string;
  readonly isAddress: boolean;
  readonly port: number | null;
}

/**
 * Operator-configured exemptions from the address policy: hostnames, IP literals, each optionally with
 * ':port' ('[::1]:8080' for v6). A hostname entry exempts whatever that name resolves to; an IP entry
 * exempts that address however it was reached, which grants nothing a literal URL could not.
 */
export class HostAllowList {
  private readonly entries: readonly AllowEntry[];

  constructor(entries: readonly string[]) {
    this.entries = entries.map(parseAllowEntry);
  }

  get size(): number {
    return this.entries.length;
  }

  /** With portNamed, only entries that name this port count, not host-wide ones. */
  allowsHost(hostname: string, port: number, { portNamed = false } = {}): boolean {
    const host = canonicalAddress(hostname) ?? canonicalHostname(hostname);
    return this.entries.some((e) => e.host === host && (e.port === port || (e.port === null && !portNamed)));
  }

  allowsAddress(address: string, port: number): boolean {
    const canonical = canonicalAddress(address);
    if (canonical === null) return false;
    return this.entries.some(
      (e) => e.isAddress && e.host === canonical && (e.port === null || e.port === port),
    );
  }
}

function parseAllowEntry(raw: string): AllowEntry {
  const entry = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return toEntry(raw, bracketed[1] ?? '', bracketed[2]);
  if (isIP(entry) === 6) return toEntry(raw, entry, undefined);
  const hostPort = /^([^:]+)(?::(\d+))?$/.exec(entry);
  if (hostPort) return toEntry(raw, hostPort[1] ?? '', hostPort[2]);
  throw new RangeError(`allowHosts entry ${JSON.stringify(raw)} is not a host, an IP or host:port`);
}

function toEntry(raw: string, host: string, port: string | undefined): AllowEntry {
  const parsedPort = port === undefined ? null : Number(port);
  if (parsedPort !== null && (!Number.isInteger(parsedPort) || parsedPort < 1 || parsedPort > 65535)) {
    throw new RangeError(`allowHosts entry ${JSON.stringify(raw)} has an invalid port`);
  }
  const address = canonicalAddress(host);
  if (address !== null) return { host: address, isAddress: true, port: parsedPort };
  const name = canonicalHostname(host);
  if (name === '' || /[/?#@\s]/.test(name)) {
    throw new RangeError(`allowHosts entry ${JSON.stringify(raw)} is not a host, an IP or host:port`);
  }
  return { host: name, isAddress: false, port: parsedPort };
}
