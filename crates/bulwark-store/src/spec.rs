//! Choosing a backend from a spec string, as given on the command line.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use crate::{Error, MemoryStore, Result, SqliteStore, Store};

/// Which backend to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// `memory`: nothing persists.
    Memory,
    /// `sqlite:<path>` (also `sqlite://<path>`): one database file.
    Sqlite(PathBuf),
    /// `etcd://host:port[,host:port…]`: reserved for the etcd backend.
    Etcd { endpoints: Vec<String> },
}

impl FromStr for StoreConfig {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self> {
        let spec = spec.trim();
        if spec == "memory" {
            return Ok(StoreConfig::Memory);
        }
        if let Some(rest) = spec.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(invalid_spec(spec, "the sqlite path is empty"));
            }
            return Ok(StoreConfig::Sqlite(PathBuf::from(path)));
        }
        if let Some(rest) = spec.strip_prefix("etcd://") {
            let endpoints: Vec<String> = rest
                .split(',')
                .map(str::trim)
                .filter(|endpoint| !endpoint.is_empty())
                .map(str::to_owned)
                .collect();
            if endpoints.is_empty() {
                return Err(invalid_spec(spec, "no etcd endpoint given"));
            }
            return Ok(StoreConfig::Etcd { endpoints });
        }
        Err(invalid_spec(
            spec,
            "expected `memory`, `sqlite:<path>` or `etcd://<host:port>[,…]`",
        ))
    }
}

impl fmt::Display for StoreConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreConfig::Memory => write!(formatter, "memory"),
            StoreConfig::Sqlite(path) => write!(formatter, "sqlite:{}", path.display()),
            StoreConfig::Etcd { endpoints } => write!(formatter, "etcd://{}", endpoints.join(",")),
        }
    }
}

impl StoreConfig {
    /// Opens the configured backend.
    pub fn open(&self) -> Result<Arc<dyn Store>> {
        match self {
            StoreConfig::Memory => Ok(Arc::new(MemoryStore::new())),
            StoreConfig::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path)?)),
            StoreConfig::Etcd { .. } => Err(Error::Unavailable(format!(
                "cannot open {self}: this build has no etcd backend yet"
            ))),
        }
    }
}

/// Opens the store a spec string names: `memory`, `sqlite:<path>`, or (later) `etcd://…`.
pub fn open_store(spec: &str) -> Result<Arc<dyn Store>> {
    spec.parse::<StoreConfig>()?.open()
}

fn invalid_spec(spec: &str, why: &str) -> Error {
    Error::Unavailable(format!("invalid store spec {spec:?}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_backend() {
        assert_eq!("memory".parse(), Ok(StoreConfig::Memory));
        assert_eq!(
            "sqlite:/var/db".parse(),
            Ok(StoreConfig::Sqlite("/var/db".into()))
        );
        assert_eq!(
            "sqlite:///var/db".parse(),
            Ok(StoreConfig::Sqlite("/var/db".into()))
        );
        assert_eq!(
            "sqlite:data/db".parse(),
            Ok(StoreConfig::Sqlite("data/db".into()))
        );
        let endpoints = vec!["a:2379".to_owned(), "b:2379".to_owned()];
        assert_eq!(
            "etcd://a:2379,b:2379".parse(),
            Ok(StoreConfig::Etcd { endpoints })
        );
    }

    #[test]
    fn rejects_unknown_and_empty_specs() {
        for spec in ["", "mem", "sqlite:", "etcd://", "postgres://x"] {
            assert!(
                spec.parse::<StoreConfig>().is_err(),
                "{spec:?} should be rejected"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for spec in ["memory", "sqlite:/var/db", "etcd://a:2379,b:2379"] {
            let config: StoreConfig = spec.parse().expect("valid spec");
            assert_eq!(config.to_string(), spec);
        }
    }

    #[tokio::test]
    async fn opens_memory_and_refuses_etcd_for_now() {
        assert!(open_store("memory").is_ok());
        assert!(matches!(
            open_store("etcd://localhost:2379"),
            Err(Error::Unavailable(_))
        ));
    }
}
