// The network a client address is counted under: one spelling per address, one counter per IPv6 /64.
import ipaddr from 'ipaddr.js'

/**
 * An IPv6 end site is normally given a /64 or more (RFC 6177), so one client can pick among 2^64
 * addresses; counting per address would give it as many fresh counters.
 */
export const IPV6_CLIENT_PREFIX = 64

/** `[v6]`, `[v6]:port` and `v4:port`, as some proxies write X-Forwarded-For entries. */
function withoutPort (address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address)
  if (bracketed !== null) return bracketed[1]
  const v4WithPort = /^([\d.]+):\d+$/.exec(address)
  return v4WithPort === null ? address : v4WithPort[1]
}

/**
 * The canonical network of an address, or null when it is not one: IPv4 (IPv4-mapped IPv6
 * included) as dotted quad, IPv6 as its /64 in RFC 5952 form. Every spelling of one address, and
 * every address of one /64, gives the same string.
 */
export function clientNetwork (address: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6
  try {
    parsed = ipaddr.process(withoutPort(address.trim()))
  } catch {
    return null
  }
  if (parsed instanceof ipaddr.IPv4) return parsed.toString()
  const prefixWords = IPV6_CLIENT_PREFIX / 16
  // A fresh address drops the zone id (`%eth0`) too: it names the server's interface, not the client.
  const network = new ipaddr.IPv6(parsed.parts.map((word, i) => (i < prefixWords ? word : 0)))
  return `${network.toRFC5952String()}/${IPV6_CLIENT_PREFIX}`
}

/**
 * One spelling of a client address, for showing it (a session's address in the devices list): IPv4 (IPv4-mapped IPv6
 * included) as dotted quad, IPv6 in RFC 5952 form without zone; null when it is not an address.
 */
export function clientAddress (address: string): string | null {
  try {
    const parsed = ipaddr.process(withoutPort(address.trim()))
    return parsed instanceof ipaddr.IPv4 ? parsed.toString() : new ipaddr.IPv6(parsed.parts).toRFC5952String()
  } catch {
    return null
  }
}
