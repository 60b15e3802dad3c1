//! IPv4 networks in CIDR notation, shared by the pod network (node agents, node IPAM) and the
//! service cluster-IP range (the API server's allocator).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network in CIDR notation, with the host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    base: Ipv4Addr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("{0:?} is not an IPv4 CIDR such as 127.128.0.0/24")]
    BadCidr(String),
    #[error("{0} has host bits set; the network is {1}")]
    HostBitsSet(String, Ipv4Cidr),
}

impl Ipv4Cidr {
    /// A network from its first address and prefix length; the host bits must be zero.
    pub fn new(base: Ipv4Addr, prefix: u8) -> Result<Self, CidrError> {
        if prefix > 32 {
            return Err(CidrError::BadCidr(format!("{base}/{prefix}")));
        }
        let network = Self::containing(base, prefix);
        if network.base != base {
            return Err(CidrError::HostBitsSet(format!("{base}/{prefix}"), network));
        }
        Ok(network)
    }

    /// The `/prefix` network `address` lies in (host bits cleared); `prefix` is capped at 32.
    pub const fn containing(address: Ipv4Addr, prefix: u8) -> Self {
        let prefix = if prefix > 32 { 32 } else { prefix };
        Self {
            base: Ipv4Addr::from_bits(address.to_bits() & mask(prefix)),
            prefix,
        }
    }

    pub fn base(&self) -> Ipv4Addr {
        self.base
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// How many addresses the network spans (2^32 for `/0`).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    pub fn contains(&self, address: Ipv4Addr) -> bool {
        u32::from(address) & mask(self.prefix) == u32::from(self.base)
    }

    /// The address `offset` places into the network (no bounds check beyond wrapping).
    pub fn nth(&self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base).wrapping_add(offset))
    }

    /// How far into the network `address` lies, if it lies inside.
    pub fn offset_of(&self, address: Ipv4Addr) -> Option<u32> {
        self.contains(address)
            .then(|| u32::from(address).wrapping_sub(u32::from(self.base)))
    }
}

const fn mask(prefix: u8) -> u32 {
    match u32::MAX.checked_shl(32 - prefix as u32) {
        Some(mask) => mask,
        None => 0,
    }
}

impl FromStr for Ipv4Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CidrError::BadCidr(text.to_string());
        let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
        let address: Ipv4Addr = address.parse().map_err(|_| bad())?;
        if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        Self::new(address, prefix)
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_print_and_measure() {
        let range: Ipv4Cidr = "127.96.0.0/12".parse().unwrap();
        assert_eq!(range.to_string(), "127.96.0.0/12");
        assert_eq!(range.size(), 1 << 20);
        assert_eq!(range.nth(1), Ipv4Addr::new(127, 96, 0, 1));
        assert_eq!(range.offset_of(Ipv4Addr::new(127, 96, 1, 0)), Some(256));
        assert_eq!(range.offset_of(Ipv4Addr::new(127, 112, 0, 0)), None);
        assert_eq!("0.0.0.0/0".parse::<Ipv4Cidr>().unwrap().size(), 1 << 32);
        assert!(matches!(
            "127.96.0.1/12".parse::<Ipv4Cidr>(),
            Err(CidrError::HostBitsSet(..))
        ));
    }
}
