//! ClusterIP allocation at admission (upstream's service IP allocator).
//!
//! Every ClusterIP, NodePort and LoadBalancer Service gets one address out of
//! `--service-cluster-ip-range` (default `127.96.0.0/12`); headless (`None`) and ExternalName
//! Services get none. Each allocated address has a durable record in the store,
//! `/bulwark/serviceips/<ip>`, created *before* the Service itself: the store's create is
//! atomic, so two concurrent creates (or a restart) can never hand out the same address twice.
//! Removing a Service releases its record; at start-up [`repair`] drops records whose Service is
//! gone (a crash between the two writes) and records addresses of Services that lack one.
//!
//! The choice of address is pure ([`pick_free`]): as upstream, dynamic allocations start at a
//! random offset in the upper part of the range and keep the lowest addresses (up to 256) for
//! Services that ask for a specific one.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use bulwark_core::net::Ipv4Cidr;
use bulwark_core::{ApiError, StatusCause};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::ApiServer;
use crate::object;

pub const DEFAULT_SERVICE_CLUSTER_IP_RANGE: Ipv4Cidr =
    Ipv4Cidr::containing(Ipv4Addr::new(127, 96, 0, 0), 12);

/// Where allocation records live: outside `/registry/`, so no API serves or caches them.
pub const RECORD_PREFIX: &str = "/bulwark/serviceips/";

/// Attempts at a free address before giving up. Each lost race means another create took an
/// address, so a busy range is settled long before this; it only bounds the loop.
const MAX_ALLOCATION_ATTEMPTS: usize = 256;

/// What a Service asks of the allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// ExternalName or headless: no cluster IP.
    Nothing,
    /// Any free address.
    Any,
    /// This address.
    Specific(Ipv4Addr),
}

/// Reads `spec.clusterIP` / `spec.clusterIPs[0]` and `spec.type` of a defaulted Service.
pub fn wanted(service: &Value) -> Result<Wanted, ApiError> {
    let spec = service.get("spec");
    let text = |key: &str| spec.and_then(|s| s.get(key)).and_then(Value::as_str);
    if text("type") == Some("ExternalName") {
        return Ok(Wanted::Nothing);
    }
    let requested = text("clusterIP").filter(|ip| !ip.is_empty()).or_else(|| {
        spec.and_then(|s| s.pointer("/clusterIPs/0"))
            .and_then(Value::as_str)
            .filter(|ip| !ip.is_empty())
    });
    match requested {
        None => Ok(Wanted::Any),
        Some("None") => Ok(Wanted::Nothing),
        Some(ip) => match ip.parse::<Ipv4Addr>() {
            Ok(address) => Ok(Wanted::Specific(address)),
            Err(_) => Err(allocation_error(
                service,
                ip,
                "IPv6 is not configured on this cluster",
            )),
        },
    }
}

/// True for the addresses Services may hold: not the range's network or broadcast address.
pub fn usable(range: Ipv4Cidr, address: Ipv4Addr) -> bool {
    let Some(offset) = range.offset_of(address) else {
        return false;
    };
    if range.size() <= 2 {
        return true;
    }
    offset != 0 && u64::from(offset) != range.size() - 1
}

/// How many of the lowest addresses dynamic allocation leaves for requested ones (upstream's
/// `calculateRangeOffset`: a sixteenth of the range, at least 16 and at most 256).
pub fn static_band(range: Ipv4Cidr) -> u64 {
    const MIN: u64 = 16;
    const MAX: u64 = 256;
    let size = range.size();
    if size < MIN {
        return 0;
    }
    (size / 16).clamp(MIN, MAX)
}

/// A free address for a dynamic allocation: the first free one from `seed`'s offset in the upper
/// band, wrapping, then the static band. `None` when the range is full.
pub fn pick_free(range: Ipv4Cidr, used: &BTreeSet<Ipv4Addr>, seed: u64) -> Option<Ipv4Addr> {
    let band = static_band(range);
    let upper = range.size() - band;
    let start = if upper == 0 { 0 } else { seed % upper };
    let upper_band = (start..upper).chain(0..start).map(|offset| offset + band);
    upper_band
        .chain(0..band)
        .filter_map(|offset| u32::try_from(offset).ok())
        .map(|offset| range.nth(offset))
        .find(|address| usable(range, *address) && !used.contains(address))
}

fn record_key(address: Ipv4Addr) -> String {
    format!("{RECORD_PREFIX}{address}")
}

/// The record's content: which Service holds the address.
fn record(service: &Value) -> Bytes {
    let holder = json!({
        "namespace": object::meta_str(service, "namespace").unwrap_or_default(),
        "name": object::name(service).unwrap_or_default(),
        "uid": object::uid(service).unwrap_or_default(),
    });
    Bytes::from(holder.to_string())
}

fn record_uid(value: &[u8]) -> Option<String> {
    let holder: Value = serde_json::from_slice(value).ok()?;
    holder.get("uid")?.as_str().map(str::to_string)
}

/// Upstream's 422: `spec.clusterIPs: Invalid value: []string{"…"}: failed to allocate IP …: …`.
fn allocation_error(service: &Value, ip: &str, why: &str) -> ApiError {
    let quoted = serde_json::to_string(ip).unwrap_or_default();
    let cause = StatusCause::new(
        "FieldValueInvalid",
        "spec.clusterIPs",
        format!("Invalid value: []string{{{quoted}}}: failed to allocate IP {ip}: {why}"),
    );
    let name = object::name(service).unwrap_or_default();
    ApiError::invalid("", "Service", name, vec![cause])
}

fn set_cluster_ip(service: &mut Value, address: Ipv4Addr) {
    if let Some(spec) = service.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("clusterIP".into(), json!(address.to_string()));
        spec.insert("clusterIPs".into(), json!([address.to_string()]));
    }
}

fn is_service(info: &bulwark_core::ResourceInfo) -> bool {
    info.group.is_empty() && info.plural == "services"
}

/// Addresses with a record.
async fn allocated(
    server: &ApiServer,
) -> Result<BTreeMap<Ipv4Addr, (Option<String>, i64)>, ApiError> {
    let records = server
        .store
        .range(RECORD_PREFIX, None, 0)
        .await
        .map_err(object::storage_error)?;
    Ok(records
        .kvs
        .into_iter()
        .filter_map(|kv| {
            let address = kv.key.strip_prefix(RECORD_PREFIX)?.parse().ok()?;
            Some((address, (record_uid(&kv.value), kv.mod_revision)))
        })
        .collect())
}

/// An address this create holds until its Service is stored (or the create fails).
#[derive(Debug)]
pub struct Reservation(Option<Ipv4Addr>);

/// Gives a new Service its cluster IP and records it; a dry run only checks and fills it in.
pub async fn reserve(
    server: &ApiServer,
    info: &bulwark_core::ResourceInfo,
    service: &mut Value,
    dry_run: bool,
) -> Result<Reservation, ApiError> {
    if !is_service(info) {
        return Ok(Reservation(None));
    }
    let range = server.service_ip_range;
    match wanted(service)? {
        Wanted::Nothing => Ok(Reservation(None)),
        Wanted::Specific(address) => {
            if !usable(range, address) {
                let why = format!(
                    "the provided IP ({address}) is not in the valid range. The range of valid IPs is {range}"
                );
                return Err(allocation_error(service, &address.to_string(), &why));
            }
            if dry_run {
                let taken = allocated(server).await?.contains_key(&address);
                return match taken {
                    true => Err(already_allocated(service, address)),
                    false => Ok(Reservation(None)),
                };
            }
            claim(server, service, address).await?;
            set_cluster_ip(service, address);
            Ok(Reservation(Some(address)))
        }
        Wanted::Any => reserve_any(server, service, dry_run).await,
    }
}

fn already_allocated(service: &Value, address: Ipv4Addr) -> ApiError {
    allocation_error(
        service,
        &address.to_string(),
        "provided IP is already allocated",
    )
}

/// Creates the record for `address`; someone else's record means it is taken.
async fn claim(server: &ApiServer, service: &Value, address: Ipv4Addr) -> Result<(), ApiError> {
    match server
        .store
        .create(&record_key(address), record(service))
        .await
    {
        Ok(_) => Ok(()),
        Err(bulwark_store::Error::AlreadyExists(_)) => Err(already_allocated(service, address)),
        Err(other) => Err(object::storage_error(other)),
    }
}

async fn reserve_any(
    server: &ApiServer,
    service: &mut Value,
    dry_run: bool,
) -> Result<Reservation, ApiError> {
    use rand::RngExt;
    let range = server.service_ip_range;
    for _ in 0..MAX_ALLOCATION_ATTEMPTS {
        let used: BTreeSet<Ipv4Addr> = allocated(server).await?.into_keys().collect();
        let seed = rand::rng().random::<u64>();
        let Some(address) = pick_free(range, &used, seed) else {
            // Upstream's wording for a full range.
            return Err(ApiError::internal(
                "Internal error occurred: failed to allocate a serviceIP: range is full",
            ));
        };
        if dry_run {
            set_cluster_ip(service, address);
            return Ok(Reservation(None));
        }
        match claim(server, service, address).await {
            Ok(()) => {
                set_cluster_ip(service, address);
                return Ok(Reservation(Some(address)));
            }
            // A concurrent create took it between our read and our write: read again.
            Err(error) if error.code == 422 => continue,
            Err(error) => return Err(error),
        }
    }
    Err(ApiError::internal(format!(
        "Internal error occurred: failed to allocate a serviceIP for {:?}: too many concurrent allocations; please retry",
        object::name(service).unwrap_or_default()
    )))
}

impl Reservation {
    /// The Service was not stored after all: give the address back.
    pub async fn cancel(self, server: &ApiServer) {
        if let Some(address) = self.0
            && let Err(error) = server.store.delete(&record_key(address), None).await
        {
            tracing::warn!(%error, %address, "cannot release a cluster IP; the restart repair will");
        }
    }
}

fn cluster_ip(service: &Value) -> Option<Ipv4Addr> {
    service
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .and_then(|ip| ip.parse().ok())
}

/// An update of a Service that had no cluster IP (an ExternalName one) to a type that needs
/// one: allocate it as a create would. Any other update keeps what it had (the IP is immutable).
pub async fn reserve_on_update(
    server: &ApiServer,
    info: &bulwark_core::ResourceInfo,
    current: &Value,
    next: &mut Value,
    dry_run: bool,
) -> Result<Reservation, ApiError> {
    if !is_service(info) || cluster_ip(current).is_some() {
        return Ok(Reservation(None));
    }
    reserve(server, info, next, dry_run).await
}

/// After an update: an address the Service no longer holds (it became ExternalName) is released.
pub async fn release_replaced(
    server: &ApiServer,
    info: &bulwark_core::ResourceInfo,
    before: &Value,
    after: &Value,
) {
    if is_service(info) && cluster_ip(before).is_some() && cluster_ip(before) != cluster_ip(after) {
        release(server, info, before).await;
    }
}

/// A Service was removed from the store: release its address if the record is still its own.
pub async fn release(server: &ApiServer, info: &bulwark_core::ResourceInfo, service: &Value) {
    if !is_service(info) {
        return;
    }
    let Some(address) = cluster_ip(service) else {
        return;
    };
    let key = record_key(address);
    let outcome = match server.store.get(&key).await {
        Ok(Some(kv)) if record_uid(&kv.value).as_deref() == object::uid(service) => server
            .store
            .delete(&key, Some(kv.mod_revision))
            .await
            .map(|_| ()),
        Ok(_) => Ok(()),
        Err(error) => Err(error),
    };
    if let Err(error) = outcome {
        tracing::warn!(%error, %address, "cannot release a cluster IP; the restart repair will");
    }
}

/// Makes the records match the stored Services: run at start-up, before any request.
pub async fn repair(server: &ApiServer) -> Result<(), ApiError> {
    let services = bulwark_core::resource::find("", "v1", "services").expect("services are served");
    let stored = server
        .store
        .range(&services.prefix(None), None, 0)
        .await
        .map_err(object::storage_error)?;
    let mut holders: BTreeMap<Ipv4Addr, Value> = BTreeMap::new();
    for kv in stored.kvs {
        let Ok(service) = serde_json::from_slice::<Value>(&kv.value) else {
            continue;
        };
        if let Ok(Wanted::Specific(address)) = wanted(&service)
            && server.service_ip_range.contains(address)
        {
            holders.insert(address, service);
        }
    }
    let records = allocated(server).await?;
    for (address, (uid, revision)) in &records {
        let live = holders
            .get(address)
            .is_some_and(|service| object::uid(service) == uid.as_deref());
        if !live {
            tracing::info!(%address, "releasing the cluster IP of a Service that is gone");
            let _ = server
                .store
                .delete(&record_key(*address), Some(*revision))
                .await;
        }
    }
    for (address, service) in &holders {
        let recorded = records
            .get(address)
            .is_some_and(|(uid, _)| uid.as_deref() == object::uid(service));
        if !recorded {
            let key = record_key(*address);
            let _ = server.store.delete(&key, None).await;
            server
                .store
                .create(&key, record(service))
                .await
                .map_err(object::storage_error)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn range(text: &str) -> Ipv4Cidr {
        text.parse().unwrap()
    }

    #[test]
    fn network_and_broadcast_addresses_are_never_handed_out() {
        let small = range("127.96.0.0/29");
        assert!(!usable(small, Ipv4Addr::new(127, 96, 0, 0)));
        assert!(!usable(small, Ipv4Addr::new(127, 96, 0, 7)));
        assert!(usable(small, Ipv4Addr::new(127, 96, 0, 1)));
        assert!(!usable(small, Ipv4Addr::new(127, 96, 0, 8)));
        let mut used = BTreeSet::new();
        for seed in 0..6 {
            let address = pick_free(small, &used, seed).expect("a free address");
            assert!(used.insert(address));
        }
        assert_eq!(used.len(), 6);
        assert_eq!(pick_free(small, &used, 3), None);
    }

    #[test]
    fn dynamic_allocation_prefers_the_upper_band() {
        let default = DEFAULT_SERVICE_CLUSTER_IP_RANGE;
        assert_eq!(default.to_string(), "127.96.0.0/12");
        assert_eq!(static_band(default), 256);
        assert_eq!(static_band(range("10.0.0.0/24")), 16);
        assert_eq!(static_band(range("10.0.0.0/29")), 0);
        let address = pick_free(default, &BTreeSet::new(), 0).unwrap();
        assert_eq!(address, Ipv4Addr::new(127, 96, 1, 0));
        // Once the upper band is full, the static band is used.
        let small = range("10.0.0.0/24");
        let upper: BTreeSet<Ipv4Addr> = (16..256).map(|o| small.nth(o)).collect();
        assert_eq!(pick_free(small, &upper, 9), Some(small.nth(1)));
        let fewer: BTreeSet<Ipv4Addr> = (17..256).map(|o| small.nth(o)).collect();
        assert_eq!(pick_free(small, &fewer, 9), Some(small.nth(16)));
    }

    #[test]
    fn services_say_what_they_want() {
        let service = |spec: Value| json!({"metadata": {"name": "s"}, "spec": spec});
        assert_eq!(
            wanted(&service(json!({"type": "ClusterIP"}))).unwrap(),
            Wanted::Any
        );
        assert_eq!(
            wanted(&service(json!({"clusterIP": "None"}))).unwrap(),
            Wanted::Nothing
        );
        assert_eq!(
            wanted(&service(json!({"type": "ExternalName"}))).unwrap(),
            Wanted::Nothing
        );
        assert_eq!(
            wanted(&service(json!({"clusterIPs": ["127.96.0.9"]}))).unwrap(),
            Wanted::Specific(Ipv4Addr::new(127, 96, 0, 9))
        );
        let error = wanted(&service(json!({"clusterIP": "fd00::1"}))).unwrap_err();
        assert_eq!(error.code, 422);
    }

    #[test]
    fn errors_read_as_upstream_writes_them() {
        let service = json!({"metadata": {"name": "web"}});
        let error = already_allocated(&service, Ipv4Addr::new(127, 96, 0, 10));
        assert_eq!(
            error.message,
            "Service \"web\" is invalid: spec.clusterIPs: Invalid value: []string{\"127.96.0.10\"}: failed to allocate IP 127.96.0.10: provided IP is already allocated"
        );
    }

    proptest! {
        #[test]
        fn a_picked_address_is_free_usable_and_in_range(
            prefix in 24u8..31,
            taken in proptest::collection::btree_set(0u32..256, 0..200),
            seed in any::<u64>(),
        ) {
            let network = Ipv4Cidr::containing(Ipv4Addr::new(127, 96, 0, 0), prefix);
            let used: BTreeSet<Ipv4Addr> = taken.iter().map(|o| network.nth(*o)).collect();
            let free = (0..network.size() as u32)
                .map(|o| network.nth(o))
                .any(|a| usable(network, a) && !used.contains(&a));
            match pick_free(network, &used, seed) {
                Some(address) => {
                    prop_assert!(usable(network, address));
                    prop_assert!(!used.contains(&address));
                }
                None => prop_assert!(!free),
            }
        }
    }
}
