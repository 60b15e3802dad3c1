//! A container's environment, command and args, resolved as the kubelet resolves them
//! (`makeEnvironmentVariables` and `ExpandContainerCommandAndArgs`).
//!
//! Order of resolution:
//! 1. `envFrom` sources in order: every key of the ConfigMap or Secret, with the source's
//!    `prefix`. Keys that are not valid variable names are skipped and reported (upstream records
//!    an event for them).
//! 2. `env` entries in order, overriding what came before: a `value` has its `$(VAR)` references
//!    expanded against the variables defined so far (and the service variables); a `valueFrom`
//!    is read from the pod (`fieldRef`), the container's resources (`resourceFieldRef`), a
//!    ConfigMap or a Secret, and is *not* expanded.
//! 3. Service variables that the container did not define itself.
//!
//! `$(VAR)` expansion: a defined `VAR` is replaced, an undefined one is left as written, `$$`
//! is a literal `$`, and a `$(` without its `)` is left as is.
//!
//! Every error is a value: the container then waits with `CreateContainerConfigError`
//! ([`CONFIG_ERROR_REASON`]) and the error's message.

use std::collections::BTreeMap;

use bulwark_core::quantity::Quantity;
use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvFromSource, EnvVarSource, Pod, Secret};

use crate::text::go_quote;

/// The `waiting.reason` of a container whose environment cannot be resolved.
pub const CONFIG_ERROR_REASON: &str = "CreateContainerConfigError";

/// Everything outside the container that its environment may refer to.
#[derive(Debug, Clone, Copy)]
pub struct EnvSources<'a> {
    pub pod: &'a Pod,
    /// `status.podIPs`, primary first.
    pub pod_ips: &'a [String],
    /// `status.hostIPs`, primary first.
    pub host_ips: &'a [String],
    /// ConfigMaps of the pod's namespace, by name.
    pub config_maps: &'a BTreeMap<String, ConfigMap>,
    /// Secrets of the pod's namespace, by name.
    pub secrets: &'a BTreeMap<String, Secret>,
    /// The node's allocatable resources: what `limits.*` means for a container without limits.
    pub node_allocatable:
        &'a BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    /// Service variables (`MY_SERVICE_HOST`, …), offered after the container's own.
    pub service_env: &'a BTreeMap<String, String>,
}

/// A resolved environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Environment {
    /// Name and value, each name once, in the order first defined.
    pub vars: Vec<(String, String)>,
    /// Keys of `envFrom` sources that were skipped as invalid variable names, for an event.
    pub skipped: Vec<SkippedKeys>,
}

/// Keys an `envFrom` source could not contribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKeys {
    /// `configMap` or `secret`.
    pub kind: &'static str,
    pub name: String,
    pub keys: Vec<String>,
}

impl SkippedKeys {
    /// The `InvalidEnvironmentVariableNames` warning event, worded as upstream.
    pub fn event_message(&self, namespace: &str) -> String {
        format!(
            "Keys [{}] from the EnvFrom {} {namespace}/{} were skipped since they are considered invalid environment variable names.",
            self.keys.join(", "),
            self.kind,
            self.name
        )
    }
}

impl Environment {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn set(&mut self, name: &str, value: String) {
        match self.vars.iter_mut().find(|(key, _)| key == name) {
            Some((_, existing)) => *existing = value,
            None => self.vars.push((name.to_string(), value)),
        }
    }
}

/// Why a container's environment cannot be built; the message is what the pod status shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error(
        "couldn't get configMap {namespace}/{name}: configmaps {} not found",
        go_quote(name)
    )]
    ConfigMapNotFound { namespace: String, name: String },
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKeyNotFound {
        namespace: String,
        name: String,
        key: String,
    },
    #[error(
        "couldn't get secret {namespace}/{name}: secrets {} not found",
        go_quote(name)
    )]
    SecretNotFound { namespace: String, name: String },
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKeyNotFound {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("unsupported fieldPath: {0}")]
    UnsupportedFieldPath(String),
    #[error("unsupported container resource : {0}")]
    UnsupportedResource(String),
    #[error("container {0} not found")]
    ResourceContainerNotFound(String),
    #[error("invalid quantity {value:?} for {field}")]
    BadQuantity { field: String, value: String },
    #[error("the divisor of {0} must be positive")]
    ZeroDivisor(String),
}

/// Resolves `container`'s environment.
pub fn resolve_env(
    container: &Container,
    sources: &EnvSources<'_>,
) -> Result<Environment, EnvError> {
    let mut environment = Environment::default();
    for source in container.env_from.iter().flatten() {
        add_env_from(&mut environment, source, sources)?;
    }
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (Some(value), _) if !value.is_empty() => {
                let lookup = |name: &str| {
                    environment
                        .get(name)
                        .or_else(|| sources.service_env.get(name).map(String::as_str))
                };
                Some(expand(value, lookup))
            }
            (_, Some(from)) => value_from(from, container, sources)?,
            _ => Some(String::new()),
        };
        // An optional reference to something absent leaves the variable out entirely.
        if let Some(value) = value {
            environment.set(&var.name, value);
        }
    }
    for (name, value) in sources.service_env {
        if environment.get(name).is_none() {
            environment.vars.push((name.clone(), value.clone()));
        }
    }
    Ok(environment)
}

fn add_env_from(
    environment: &mut Environment,
    source: &EnvFromSource,
    sources: &EnvSources<'_>,
) -> Result<(), EnvError> {
    let prefix = source.prefix.as_deref().unwrap_or("");
    let namespace = namespace_of(sources.pod);
    let (kind, name, entries): (_, _, Vec<(String, String)>) = if let Some(reference) =
        &source.config_map_ref
    {
        let Some(config_map) = sources.config_maps.get(&reference.name) else {
            if reference.optional == Some(true) {
                return Ok(());
            }
            return Err(EnvError::ConfigMapNotFound {
                namespace,
                name: reference.name.clone(),
            });
        };
        let data = config_map.data.iter().flatten();
        (
            "configMap",
            &reference.name,
            data.map(|(k, v)| (k.clone(), v.clone())).collect(),
        )
    } else if let Some(reference) = &source.secret_ref {
        let Some(secret) = sources.secrets.get(&reference.name) else {
            if reference.optional == Some(true) {
                return Ok(());
            }
            return Err(EnvError::SecretNotFound {
                namespace,
                name: reference.name.clone(),
            });
        };
        let data = secret.data.iter().flatten();
        let entries = data.map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()));
        ("secret", &reference.name, entries.collect())
    } else {
        return Ok(());
    };
    let mut skipped = Vec::new();
    for (key, value) in entries {
        let full_name = format!("{prefix}{key}");
        if is_env_var_name(&full_name) {
            environment.set(&full_name, value);
        } else {
            skipped.push(full_name);
        }
    }
    if !skipped.is_empty() {
        environment.skipped.push(SkippedKeys {
            kind,
            name: name.clone(),
            keys: skipped,
        });
    }
    Ok(())
}

/// Kubernetes 1.33's relaxed variable names: printable ASCII except `=`, not empty.
pub fn is_env_var_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| (b' '..=b'~').contains(&byte) && byte != b'=')
}

fn value_from(
    from: &EnvVarSource,
    container: &Container,
    sources: &EnvSources<'_>,
) -> Result<Option<String>, EnvError> {
    let namespace = namespace_of(sources.pod);
    if let Some(field) = &from.field_ref {
        return field_value(&field.field_path, sources).map(Some);
    }
    if let Some(resource) = &from.resource_field_ref {
        return resource_value(resource, container, sources).map(Some);
    }
    if let Some(reference) = &from.config_map_key_ref {
        let optional = reference.optional == Some(true);
        let Some(config_map) = sources.config_maps.get(&reference.name) else {
            return missing(
                optional,
                EnvError::ConfigMapNotFound {
                    namespace,
                    name: reference.name.clone(),
                },
            );
        };
        return match config_map
            .data
            .as_ref()
            .and_then(|data| data.get(&reference.key))
        {
            Some(value) => Ok(Some(value.clone())),
            None => missing(
                optional,
                EnvError::ConfigMapKeyNotFound {
                    namespace,
                    name: reference.name.clone(),
                    key: reference.key.clone(),
                },
            ),
        };
    }
    if let Some(reference) = &from.secret_key_ref {
        let optional = reference.optional == Some(true);
        let Some(secret) = sources.secrets.get(&reference.name) else {
            return missing(
                optional,
                EnvError::SecretNotFound {
                    namespace,
                    name: reference.name.clone(),
                },
            );
        };
        return match secret
            .data
            .as_ref()
            .and_then(|data| data.get(&reference.key))
        {
            Some(value) => Ok(Some(String::from_utf8_lossy(&value.0).into_owned())),
            None => missing(
                optional,
                EnvError::SecretKeyNotFound {
                    namespace,
                    name: reference.name.clone(),
                    key: reference.key.clone(),
                },
            ),
        };
    }
    Ok(Some(String::new()))
}

fn missing(optional: bool, error: EnvError) -> Result<Option<String>, EnvError> {
    if optional { Ok(None) } else { Err(error) }
}

fn namespace_of(pod: &Pod) -> String {
    pod.metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_string())
}

/// The downward API's `fieldRef` paths.
fn field_value(path: &str, sources: &EnvSources<'_>) -> Result<String, EnvError> {
    let pod = sources.pod;
    let metadata = &pod.metadata;
    let spec = pod.spec.as_ref();
    let text = |value: Option<&String>| value.cloned().unwrap_or_default();
    let value = match path {
        "metadata.name" => text(metadata.name.as_ref()),
        "metadata.namespace" => text(metadata.namespace.as_ref()),
        "metadata.uid" => text(metadata.uid.as_ref()),
        "metadata.labels" => format_map(metadata.labels.as_ref()),
        "metadata.annotations" => format_map(metadata.annotations.as_ref()),
        "spec.nodeName" => text(spec.and_then(|spec| spec.node_name.as_ref())),
        "spec.serviceAccountName" => text(spec.and_then(|spec| spec.service_account_name.as_ref())),
        "status.podIP" => sources.pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => sources.pod_ips.join(","),
        "status.hostIP" => sources.host_ips.first().cloned().unwrap_or_default(),
        "status.hostIPs" => sources.host_ips.join(","),
        _ => return subscripted_field(path, pod),
    };
    Ok(value)
}

/// `metadata.labels['key']` and `metadata.annotations['key']`; an absent key is empty.
fn subscripted_field(path: &str, pod: &Pod) -> Result<String, EnvError> {
    let unsupported = || EnvError::UnsupportedFieldPath(path.to_string());
    let (map, rest) = if let Some(rest) = path.strip_prefix("metadata.labels[") {
        (pod.metadata.labels.as_ref(), rest)
    } else if let Some(rest) = path.strip_prefix("metadata.annotations[") {
        (pod.metadata.annotations.as_ref(), rest)
    } else {
        return Err(unsupported());
    };
    let key = rest
        .strip_suffix(']')
        .and_then(|quoted| {
            quoted
                .strip_prefix('\'')
                .and_then(|k| k.strip_suffix('\''))
                .or_else(|| quoted.strip_prefix('"').and_then(|k| k.strip_suffix('"')))
        })
        .ok_or_else(unsupported)?;
    Ok(map
        .and_then(|map| map.get(key))
        .cloned()
        .unwrap_or_default())
}

/// Upstream's `FormatMap`: `key="value"` lines in key order.
fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(key, value)| format!("{key}={}", go_quote(value)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn resource_value(
    selector: &k8s_openapi::api::core::v1::ResourceFieldSelector,
    container: &Container,
    sources: &EnvSources<'_>,
) -> Result<String, EnvError> {
    let target = match selector
        .container_name
        .as_deref()
        .filter(|name| !name.is_empty())
    {
        None => container,
        Some(name) => find_container(sources.pod, name)
            .ok_or_else(|| EnvError::ResourceContainerNotFound(name.to_string()))?,
    };
    let field = selector.resource.as_str();
    let (which, resource) = field
        .split_once('.')
        .ok_or_else(|| EnvError::UnsupportedResource(field.to_string()))?;
    let resources = target.resources.as_ref();
    let declared = match which {
        "limits" => resources.and_then(|r| r.limits.as_ref()),
        "requests" => resources.and_then(|r| r.requests.as_ref()),
        _ => return Err(EnvError::UnsupportedResource(field.to_string())),
    };
    if !matches!(resource, "cpu" | "memory" | "ephemeral-storage")
        && !resource.starts_with("hugepages-")
    {
        return Err(EnvError::UnsupportedResource(field.to_string()));
    }
    // A container without a limit may use the whole node, so that is what its limit reads as.
    let amount = declared.and_then(|list| list.get(resource)).or_else(|| {
        (which == "limits")
            .then(|| sources.node_allocatable.get(resource))
            .flatten()
    });
    let amount = match amount {
        Some(quantity) => parse_quantity(field, &quantity.0)?,
        None => Quantity::zero(),
    };
    let divisor = match &selector.divisor {
        Some(divisor) if !parse_quantity(field, &divisor.0)?.is_zero() => {
            parse_quantity(field, &divisor.0)?
        }
        _ => Quantity::new(1, bulwark_core::quantity::Format::DecimalSI),
    };
    // CPU divides in millicores, everything else in whole units; both round up.
    let (numerator, denominator) = if resource == "cpu" {
        (
            i128::from(amount.milli_value()),
            i128::from(divisor.milli_value()),
        )
    } else {
        (i128::from(amount.value()), i128::from(divisor.value()))
    };
    if denominator <= 0 {
        return Err(EnvError::ZeroDivisor(field.to_string()));
    }
    Ok(ceiling_division(numerator, denominator).to_string())
}

fn find_container<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|container| container.name == name)
}

fn parse_quantity(field: &str, value: &str) -> Result<Quantity, EnvError> {
    Quantity::parse(value).map_err(|_| EnvError::BadQuantity {
        field: field.to_string(),
        value: value.to_string(),
    })
}

fn ceiling_division(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator.div_euclid(denominator);
    if numerator.rem_euclid(denominator) == 0 {
        quotient
    } else {
        quotient + 1
    }
}

/// Expands `$(VAR)` references in `input`; see the module docs for the rules.
pub fn expand<'a>(input: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(escaped) = after.strip_prefix('$') {
            out.push('$');
            rest = escaped;
        } else if let Some(reference) = after.strip_prefix('(') {
            match reference.find(')') {
                Some(close) => {
                    let name = &reference[..close];
                    match lookup(name) {
                        Some(value) => out.push_str(value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &reference[close + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = reference;
                }
            }
        } else {
            // A lone `$` (or one at the very end) stays as written.
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The container's `command` and `args` with `$(VAR)` references expanded against its
/// resolved environment.
pub fn expand_command_and_args(
    container: &Container,
    environment: &Environment,
) -> (Vec<String>, Vec<String>) {
    let lookup = |name: &str| environment.get(name);
    let expand_all = |items: Option<&Vec<String>>| {
        items
            .into_iter()
            .flatten()
            .map(|item| expand(item, lookup))
            .collect::<Vec<_>>()
    };
    (
        expand_all(container.command.as_ref()),
        expand_all(container.args.as_ref()),
    )
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;
