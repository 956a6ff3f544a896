//! Which addresses `web_fetch` may connect to: public ones only, unless the caller opens
//! loopback, private and link-local ranges ([`AddressPolicy`]). Pure functions over
//! `IpAddr`, used by the resolver (names) and the URL check (IP literals, every hop).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What `web_fetch` may reach beyond the public internet. The default refuses loopback,
/// private, link-local and other non-public addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Allow every non-public address (loopback, private, link-local, ...): for tests
    /// and for people who point web_fetch at their own machine or LAN on purpose.
    pub allow_private: bool,
    /// Non-public addresses allowed one by one (finer than `allow_private`).
    pub allowed_addresses: Vec<IpAddr>,
}

impl AddressPolicy {
    /// A policy that lets web_fetch reach any address.
    pub fn allow_private() -> Self {
        Self {
            allow_private: true,
            allowed_addresses: Vec::new(),
        }
    }

    /// `Err(reason)` when `address` may not be fetched, the reason worded as "a
    /// loopback address".
    pub fn check(&self, address: IpAddr) -> Result<(), &'static str> {
        if self.allow_private || self.allowed_addresses.contains(&address) {
            return Ok(());
        }
        match non_public_reason(address) {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }
}

/// Why `address` is not a public internet address ("a loopback address", ...), or
/// `None` for a public one. IPv4 addresses embedded in IPv6 (mapped, compatible,
/// NAT64, 6to4) are judged as the IPv4 address they lead to.
pub fn non_public_reason(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => ipv4_reason(v4),
        IpAddr::V6(v6) => ipv6_reason(v6),
    }
}

fn ipv4_reason(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = address.octets();
    if address.is_loopback() {
        Some("a loopback address")
    } else if address.is_unspecified() || a == 0 {
        Some("an unspecified (\"this network\") address")
    } else if address.is_private() {
        Some("a private address")
    } else if address.is_link_local() {
        Some("a link-local address (cloud metadata services live here)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if address.is_broadcast() {
        Some("the broadcast address")
    } else if address.is_multicast() {
        Some("a multicast address")
    } else if a >= 240 {
        Some("a reserved address")
    } else if a == 192 && b == 0 && c == 0 {
        Some("an IETF protocol assignment address")
    } else if a == 198 && (18..20).contains(&b) {
        Some("a benchmarking address")
    } else {
        None
    }
}

fn ipv6_reason(address: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_ipv4(address) {
        return ipv4_reason(v4);
    }
    let first = address.segments()[0];
    if address.is_loopback() {
        Some("a loopback address")
    } else if address.is_unspecified() {
        Some("an unspecified address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if first & 0xffc0 == 0xfec0 {
        Some("a site-local address")
    } else if address.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4 (`2002:AABB:CCDD::`).
fn embedded_ipv4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = address.segments();
    let low =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = address.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
        return Some(low(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(low(s[1], s[2]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> Option<&'static str> {
        non_public_reason(text.parse().unwrap())
    }

    #[test]
    fn non_public_ipv4_ranges_are_named() {
        for (address, expected) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("10.0.0.1", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.254", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.255", "carrier-grade NAT"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("240.0.0.1", "reserved"),
        ] {
            let found = reason(address).unwrap_or("public");
            assert!(found.contains(expected), "{address}: {found}");
        }
    }

    #[test]
    fn public_ipv4_and_ipv6_addresses_pass() {
        for address in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert_eq!(reason(address), None, "{address}");
        }
    }

    #[test]
    fn non_public_ipv6_and_embedded_ipv4_forms_are_named() {
        for (address, expected) in [
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "private"),
            ("fd12:3456::1", "private"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::127.0.0.1", "loopback"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("2002:7f00:1::", "loopback"),
            ("2002:c0a8:0101::1", "private"),
        ] {
            let found = reason(address).unwrap_or("public");
            assert!(found.contains(expected), "{address}: {found}");
        }
    }

    #[test]
    fn the_policy_opens_everything_or_single_addresses() {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(AddressPolicy::default().check(loopback).is_err());
        assert!(AddressPolicy::allow_private().check(other).is_ok());
        let one = AddressPolicy {
            allow_private: false,
            allowed_addresses: vec![loopback],
        };
        assert!(one.check(loopback).is_ok());
        assert_eq!(one.check(other), Err("a loopback address"));
    }
}
