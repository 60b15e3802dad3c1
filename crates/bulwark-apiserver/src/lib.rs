//! Bulwark's Kubernetes-compatible API server.
//!
//! A request flows: HTTP ([`http`]) → route ([`request`]) → handler ([`handlers`]) → kind-specific
//! strategy ([`strategy`], backed by `bulwark-registry`) → store (`bulwark-store`). Lists and
//! watches are served from the [`cache`].
//!
//! Plain HTTP on loopback for now; TLS and authentication slot in as layers in [`http`].

pub mod cache;
pub mod discovery;
pub mod entry;
pub mod filter;
pub mod handlers;
pub mod http;
pub mod managed;
pub mod negotiate;
pub mod object;
pub mod pagination;
pub mod request;
pub mod service_ips;
pub mod strategy;
pub mod view;

use std::sync::Arc;

use bulwark_core::clock::Clock;
use bulwark_core::net::Ipv4Cidr;
use bulwark_store::Store;

pub use cache::CacheConfig;

/// Everything a request handler needs, shared by all requests.
pub struct ApiServer {
    pub store: Arc<dyn Store>,
    pub cache: Arc<cache::WatchCache>,
    pub clock: Arc<dyn Clock>,
    pub pages: pagination::Pages,
    /// The address clients reach us at, advertised in discovery.
    pub advertise_address: String,
    /// `--service-cluster-ip-range`: where Services' cluster IPs come from.
    pub service_ip_range: Ipv4Cidr,
    /// Set once the server is shutting down, so long-running watches end and a graceful
    /// shutdown does not wait for their 30-minute timeouts.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl ApiServer {
    /// Loads the watch cache from the store and makes sure the built-in namespaces exist;
    /// Services get their cluster IPs from the default range.
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        cache_config: CacheConfig,
        advertise_address: String,
    ) -> Result<Arc<Self>, bulwark_core::ApiError> {
        Self::start_with_service_range(
            store,
            clock,
            cache_config,
            advertise_address,
            service_ips::DEFAULT_SERVICE_CLUSTER_IP_RANGE,
        )
        .await
    }

    /// [`ApiServer::start`] with Services' cluster IPs from `service_ip_range`; the allocation
    /// records are repaired against the stored Services first.
    pub async fn start_with_service_range(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        cache_config: CacheConfig,
        advertise_address: String,
        service_ip_range: Ipv4Cidr,
    ) -> Result<Arc<Self>, bulwark_core::ApiError> {
        let cache = cache::WatchCache::start(Arc::clone(&store), cache_config).await?;
        let server = Arc::new(Self {
            store,
            cache,
            clock,
            pages: pagination::Pages::default(),
            advertise_address,
            service_ip_range,
            stopping: tokio::sync::watch::channel(false).0,
        });
        service_ips::repair(&server).await?;
        handlers::bootstrap::ensure_system_namespaces(&server).await?;
        Ok(server)
    }

    /// Ends every open watch; new requests are still answered until the listener closes.
    pub fn begin_shutdown(&self) {
        self.stopping.send_replace(true);
    }

    /// Completes once [`ApiServer::begin_shutdown`] has been called.
    pub async fn stopped(&self) {
        let mut stopping = self.stopping.subscribe();
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }
}
