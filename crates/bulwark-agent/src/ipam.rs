//! Addresses on the loopback pod network (DESIGN §6).
//!
//! Every node owns a `/24` pod CIDR out of `127.128.0.0/9` ([`PodCidrAllocator`], run by the
//! control plane), and the agent gives each pod one address inside its node's `/24`
//! ([`PodAddressAllocator`]): `.0` and `.255` are the block's network and broadcast addresses,
//! and `.1` stays reserved for the node itself, so pods get `.2` to `.254`.
//!
//! Both hand out addresses round-robin, as upstream's range allocators do: a released address is
//! reused only after the others, so a client still holding an old pod's address is less likely
//! to reach a new pod by accident. Both can be rebuilt from what already exists (`occupy`,
//! `restore`) when an agent or the control plane restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

pub use bulwark_core::net::{CidrError, Ipv4Cidr};

/// The pod network: `127.128.0.0/9`.
pub const POD_NETWORK: Ipv4Cidr = Ipv4Cidr::containing(Ipv4Addr::new(127, 128, 0, 0), 9);

/// The size of each node's block.
pub const NODE_PREFIX: u8 = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error(transparent)]
    Cidr(#[from] CidrError),
    #[error("{0} is not a /24 inside the pod network {POD_NETWORK}")]
    NotANodeBlock(Ipv4Cidr),
    #[error("the cluster CIDR {0} must lie inside {POD_NETWORK} and hold at least one /24")]
    BadClusterCidr(Ipv4Cidr),
    #[error("every /24 of the cluster CIDR is assigned to a node")]
    NodeBlocksExhausted,
    #[error("every pod address of {0} is in use")]
    PodAddressesExhausted(Ipv4Cidr),
    #[error("{address} is not a pod address of {cidr} (.2 to .254)")]
    NotAPodAddress { address: Ipv4Addr, cidr: Ipv4Cidr },
    #[error("{address} is already held by pod {holder}")]
    AddressTaken { address: Ipv4Addr, holder: String },
}

/// A fixed set of slots `0..size` handed out round-robin.
#[derive(Debug, Clone)]
struct RoundRobinPool {
    size: u32,
    used: BTreeSet<u32>,
    /// Where the search for the next free slot begins.
    cursor: u32,
}

impl RoundRobinPool {
    fn new(size: u32) -> Self {
        Self {
            size,
            used: BTreeSet::new(),
            cursor: 0,
        }
    }

    fn take_next(&mut self) -> Option<u32> {
        let free = self
            .used
            .range(self.cursor..)
            .try_fold(self.cursor, |candidate, used| {
                if *used == candidate {
                    Ok(candidate + 1)
                } else {
                    Err(candidate)
                }
            })
            .map_or_else(Some, |after_run| {
                (after_run < self.size).then_some(after_run)
            })
            .or_else(|| self.first_free_from_start())?;
        self.used.insert(free);
        self.cursor = (free + 1) % self.size;
        Some(free)
    }

    fn first_free_from_start(&self) -> Option<u32> {
        (0..self.size).find(|slot| !self.used.contains(slot))
    }

    /// Marks a slot used; false when it already was.
    fn occupy(&mut self, slot: u32) -> bool {
        slot < self.size && self.used.insert(slot)
    }

    fn release(&mut self, slot: u32) {
        self.used.remove(&slot);
    }
}

/// The control plane's side: one `/24` per node out of its cluster CIDR ([`POD_NETWORK`]
/// unless `--cluster-cidr` names a smaller part of it).
#[derive(Debug, Clone)]
pub struct PodCidrAllocator {
    network: Ipv4Cidr,
    blocks: RoundRobinPool,
}

impl Default for PodCidrAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl PodCidrAllocator {
    pub fn new() -> Self {
        Self::over(POD_NETWORK)
    }

    /// Blocks out of `network`, which must lie inside [`POD_NETWORK`] and hold at least one
    /// `/24` (so two clusters on one machine can keep their pods apart).
    pub fn within(network: Ipv4Cidr) -> Result<Self, IpamError> {
        let inside =
            POD_NETWORK.contains(network.base()) && network.prefix() >= POD_NETWORK.prefix();
        if !inside || network.prefix() > NODE_PREFIX {
            return Err(IpamError::BadClusterCidr(network));
        }
        Ok(Self::over(network))
    }

    fn over(network: Ipv4Cidr) -> Self {
        Self {
            network,
            blocks: RoundRobinPool::new(1 << (NODE_PREFIX - network.prefix())),
        }
    }

    /// The next free block.
    pub fn allocate(&mut self) -> Result<Ipv4Cidr, IpamError> {
        let index = self
            .blocks
            .take_next()
            .ok_or(IpamError::NodeBlocksExhausted)?;
        Ok(self.block_at(index))
    }

    /// Records a block a Node already carries (rebuilding after a restart). Returns false when
    /// the block was already recorded, which means two Nodes claim it.
    pub fn occupy(&mut self, cidr: Ipv4Cidr) -> Result<bool, IpamError> {
        let index = self.block_index(cidr)?;
        Ok(self.blocks.occupy(index))
    }

    /// Gives a deleted Node's block back.
    pub fn release(&mut self, cidr: Ipv4Cidr) -> Result<(), IpamError> {
        let index = self.block_index(cidr)?;
        self.blocks.release(index);
        Ok(())
    }

    fn block_at(&self, index: u32) -> Ipv4Cidr {
        Ipv4Cidr::containing(self.network.nth(index << (32 - NODE_PREFIX)), NODE_PREFIX)
    }

    fn block_index(&self, cidr: Ipv4Cidr) -> Result<u32, IpamError> {
        if cidr.prefix() != NODE_PREFIX || !self.network.contains(cidr.base()) {
            return Err(IpamError::NotANodeBlock(cidr));
        }
        Ok((u32::from(cidr.base()) - u32::from(self.network.base())) >> (32 - NODE_PREFIX))
    }
}

/// The index of a node block in the whole pod network (a block of another cluster CIDR is
/// still a valid node block).
fn block_index(cidr: Ipv4Cidr) -> Result<u32, IpamError> {
    if cidr.prefix() != NODE_PREFIX || !POD_NETWORK.contains(cidr.base()) {
        return Err(IpamError::NotANodeBlock(cidr));
    }
    Ok((u32::from(cidr.base()) - u32::from(POD_NETWORK.base())) >> (32 - NODE_PREFIX))
}

/// The first host offset a pod may get: `.0` is the network, `.1` the node.
const FIRST_POD_OFFSET: u32 = 2;
/// How many pod addresses a `/24` holds: `.2` to `.254`.
const POD_ADDRESSES: u32 = 253;

/// The agent's side: one address per pod inside the node's `/24`, keyed by pod UID.
#[derive(Debug, Clone)]
pub struct PodAddressAllocator {
    cidr: Ipv4Cidr,
    slots: RoundRobinPool,
    holders: BTreeMap<String, u32>,
}

impl PodAddressAllocator {
    /// An allocator for a node's block; the block must be a `/24` of the pod network.
    pub fn new(cidr: Ipv4Cidr) -> Result<Self, IpamError> {
        block_index(cidr)?;
        Ok(Self {
            cidr,
            slots: RoundRobinPool::new(POD_ADDRESSES),
            holders: BTreeMap::new(),
        })
    }

    pub fn cidr(&self) -> Ipv4Cidr {
        self.cidr
    }

    /// The node's own address in the block (`.1`).
    pub fn node_address(&self) -> Ipv4Addr {
        self.cidr.nth(1)
    }

    /// The pod's address, allocating one the first time; asking again returns the same one.
    pub fn allocate(&mut self, pod_uid: &str) -> Result<Ipv4Addr, IpamError> {
        if let Some(address) = self.address_of(pod_uid) {
            return Ok(address);
        }
        let slot = self
            .slots
            .take_next()
            .ok_or(IpamError::PodAddressesExhausted(self.cidr))?;
        self.holders.insert(pod_uid.to_string(), slot);
        Ok(self.address_at(slot))
    }

    /// Records an address a running pod already has (adoption after an agent restart).
    pub fn restore(&mut self, pod_uid: &str, address: Ipv4Addr) -> Result<(), IpamError> {
        let slot = self.slot_of(address)?;
        if let Some((holder, _)) = self.holders.iter().find(|(_, held)| **held == slot) {
            if holder == pod_uid {
                return Ok(());
            }
            return Err(IpamError::AddressTaken {
                address,
                holder: holder.clone(),
            });
        }
        self.release(pod_uid);
        self.slots.occupy(slot);
        self.holders.insert(pod_uid.to_string(), slot);
        Ok(())
    }

    /// Frees the pod's address; releasing an unknown pod does nothing.
    pub fn release(&mut self, pod_uid: &str) {
        if let Some(slot) = self.holders.remove(pod_uid) {
            self.slots.release(slot);
        }
    }

    pub fn address_of(&self, pod_uid: &str) -> Option<Ipv4Addr> {
        self.holders.get(pod_uid).map(|slot| self.address_at(*slot))
    }

    pub fn in_use(&self) -> usize {
        self.holders.len()
    }

    fn address_at(&self, slot: u32) -> Ipv4Addr {
        self.cidr.nth(FIRST_POD_OFFSET + slot)
    }

    fn slot_of(&self, address: Ipv4Addr) -> Result<u32, IpamError> {
        let offset = u32::from(address).wrapping_sub(u32::from(self.cidr.base()));
        if !self.cidr.contains(address)
            || !(FIRST_POD_OFFSET..FIRST_POD_OFFSET + POD_ADDRESSES).contains(&offset)
        {
            return Err(IpamError::NotAPodAddress {
                address,
                cidr: self.cidr,
            });
        }
        Ok(offset - FIRST_POD_OFFSET)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn node_block(text: &str) -> Ipv4Cidr {
        text.parse().expect("test CIDR")
    }

    #[test]
    fn cidrs_parse_and_print() {
        assert_eq!(node_block("127.128.3.0/24").to_string(), "127.128.3.0/24");
        assert_eq!(POD_NETWORK.to_string(), "127.128.0.0/9");
        for bad in [
            "",
            "127.0.0.1",
            "127.0.0.0/33",
            "127.0.0.0/",
            "x/24",
            "127.0.0.0/+8",
            "127.0.0.0/024",
        ] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
        assert!(matches!(
            "127.128.3.7/24".parse::<Ipv4Cidr>(),
            Err(CidrError::HostBitsSet(..))
        ));
        assert_eq!(node_block("0.0.0.0/0").to_string(), "0.0.0.0/0");
    }

    #[test]
    fn nodes_get_consecutive_blocks_of_the_pod_network() {
        let mut allocator = PodCidrAllocator::new();
        let blocks: Vec<String> = (0..3)
            .map(|_| allocator.allocate().map(|cidr| cidr.to_string()))
            .collect::<Result<_, _>>()
            .expect("free blocks");
        assert_eq!(
            blocks,
            ["127.128.0.0/24", "127.128.1.0/24", "127.128.2.0/24"]
        );
    }

    #[test]
    fn node_blocks_run_out_after_the_last_one_and_come_back_when_released() {
        let mut allocator = PodCidrAllocator::new();
        let mut last = None;
        for _ in 0..(1 << 15) {
            last = Some(allocator.allocate().expect("block"));
        }
        assert_eq!(
            last.map(|cidr| cidr.to_string()).as_deref(),
            Some("127.255.255.0/24")
        );
        assert_eq!(allocator.allocate(), Err(IpamError::NodeBlocksExhausted));
        allocator
            .release(node_block("127.200.0.0/24"))
            .expect("a node block");
        assert_eq!(allocator.allocate(), Ok(node_block("127.200.0.0/24")));
    }

    #[test]
    fn blocks_outside_the_pod_network_are_refused() {
        let mut allocator = PodCidrAllocator::new();
        assert!(allocator.occupy(node_block("10.0.0.0/24")).is_err());
        assert!(allocator.occupy(node_block("127.128.0.0/23")).is_err());
        assert_eq!(allocator.occupy(node_block("127.128.0.0/24")), Ok(true));
        assert_eq!(allocator.occupy(node_block("127.128.0.0/24")), Ok(false));
        assert_eq!(allocator.allocate(), Ok(node_block("127.128.1.0/24")));
    }

    #[test]
    fn pods_get_dot_two_onwards_and_the_same_address_when_asking_again() {
        let mut pods = PodAddressAllocator::new(node_block("127.128.5.0/24")).expect("block");
        assert_eq!(pods.node_address(), Ipv4Addr::new(127, 128, 5, 1));
        assert_eq!(pods.allocate("a"), Ok(Ipv4Addr::new(127, 128, 5, 2)));
        assert_eq!(pods.allocate("b"), Ok(Ipv4Addr::new(127, 128, 5, 3)));
        assert_eq!(pods.allocate("a"), Ok(Ipv4Addr::new(127, 128, 5, 2)));
        assert_eq!(pods.in_use(), 2);
    }

    #[test]
    fn released_pod_addresses_are_reused_only_after_the_rest() {
        let mut pods = PodAddressAllocator::new(node_block("127.128.0.0/24")).expect("block");
        let first = pods.allocate("a").expect("address");
        pods.release("a");
        assert_ne!(pods.allocate("b").expect("address"), first);
        for index in 0..251 {
            pods.allocate(&format!("filler-{index}")).expect("address");
        }
        assert_eq!(
            pods.allocate("c"),
            Ok(first),
            "wrapped around to the released one"
        );
        assert_eq!(
            pods.allocate("d"),
            Err(IpamError::PodAddressesExhausted(node_block(
                "127.128.0.0/24"
            )))
        );
    }

    #[test]
    fn restored_addresses_are_kept_and_conflicts_refused() {
        let mut pods = PodAddressAllocator::new(node_block("127.128.0.0/24")).expect("block");
        pods.restore("a", Ipv4Addr::new(127, 128, 0, 2))
            .expect("free address");
        pods.restore("a", Ipv4Addr::new(127, 128, 0, 2))
            .expect("idempotent");
        assert!(matches!(
            pods.restore("b", Ipv4Addr::new(127, 128, 0, 2)),
            Err(IpamError::AddressTaken { .. })
        ));
        for reserved in [0, 1, 255] {
            assert!(matches!(
                pods.restore("b", Ipv4Addr::new(127, 128, 0, reserved)),
                Err(IpamError::NotAPodAddress { .. })
            ));
        }
        assert!(pods.restore("b", Ipv4Addr::new(127, 128, 1, 2)).is_err());
        assert_eq!(pods.allocate("b"), Ok(Ipv4Addr::new(127, 128, 0, 3)));
    }

    #[derive(Debug, Clone)]
    enum Step {
        Allocate(u8),
        Release(u8),
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        proptest::collection::vec(
            prop_oneof![
                (0u8..=255).prop_map(Step::Allocate),
                (0u8..=255).prop_map(Step::Release),
            ],
            0..600,
        )
    }

    proptest! {
        #[test]
        fn pod_addresses_stay_unique_and_inside_dot_two_to_dot_254(steps in steps()) {
            let cidr = node_block("127.130.7.0/24");
            let mut pods = PodAddressAllocator::new(cidr).expect("block");
            for step in steps {
                match step {
                    Step::Allocate(pod) => match pods.allocate(&pod.to_string()) {
                        Ok(address) => {
                            prop_assert!(cidr.contains(address));
                            prop_assert!((2..=254).contains(&address.octets()[3]));
                        }
                        Err(error) => prop_assert_eq!(pods.in_use(), 253, "{}", error),
                    },
                    Step::Release(pod) => pods.release(&pod.to_string()),
                }
            }
            let held: BTreeSet<Ipv4Addr> = (0u8..=255)
                .filter_map(|pod| pods.address_of(&pod.to_string()))
                .collect();
            prop_assert_eq!(held.len(), pods.in_use(), "no address held twice");
        }

        #[test]
        fn any_cidr_text_parses_or_errors_without_panicking(text in "\\PC{0,24}") {
            let _ = text.parse::<Ipv4Cidr>();
        }
    }
}
