use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapEnvSource, ConfigMapKeySelector, Container, EnvFromSource, EnvVar,
    EnvVarSource, ObjectFieldSelector, Pod, PodSpec, ResourceFieldSelector, ResourceRequirements,
    Secret, SecretEnvSource, SecretKeySelector,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::prelude::*;

use super::*;

struct World {
    pod: Pod,
    config_maps: BTreeMap<String, ConfigMap>,
    secrets: BTreeMap<String, Secret>,
    allocatable: BTreeMap<String, Quantity>,
    service_env: BTreeMap<String, String>,
    pod_ips: Vec<String>,
    host_ips: Vec<String>,
}

impl World {
    fn new() -> Self {
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let annotations = BTreeMap::from([
            ("b".to_string(), "two \"quoted\"".to_string()),
            ("a".to_string(), "one".to_string()),
        ]);
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some("web-1".into()),
                namespace: Some("shop".into()),
                uid: Some("uid-1".into()),
                labels: Some(labels),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: Some("node-1".into()),
                service_account_name: Some("default".into()),
                containers: vec![Container {
                    name: "side".into(),
                    resources: Some(resources(&[("memory", "64Mi")], &[("cpu", "250m")])),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            ..Pod::default()
        };
        let config_map = ConfigMap {
            data: Some(BTreeMap::from([
                ("LEVEL".to_string(), "debug".to_string()),
                ("bad=key".to_string(), "x".to_string()),
            ])),
            ..ConfigMap::default()
        };
        let secret = Secret {
            data: Some(BTreeMap::from([(
                "password".to_string(),
                ByteString(b"s3cret".to_vec()),
            )])),
            ..Secret::default()
        };
        Self {
            pod,
            config_maps: BTreeMap::from([("settings".to_string(), config_map)]),
            secrets: BTreeMap::from([("db".to_string(), secret)]),
            allocatable: BTreeMap::from([
                ("cpu".to_string(), Quantity("4".into())),
                ("memory".to_string(), Quantity("8Gi".into())),
            ]),
            service_env: BTreeMap::from([(
                "API_SERVICE_HOST".to_string(),
                "127.96.0.10".to_string(),
            )]),
            pod_ips: vec!["127.128.0.2".into()],
            host_ips: vec!["127.128.0.1".into()],
        }
    }

    fn sources(&self) -> EnvSources<'_> {
        EnvSources {
            pod: &self.pod,
            pod_ips: &self.pod_ips,
            host_ips: &self.host_ips,
            config_maps: &self.config_maps,
            secrets: &self.secrets,
            node_allocatable: &self.allocatable,
            service_env: &self.service_env,
        }
    }

    fn resolve(&self, container: &Container) -> Result<Environment, EnvError> {
        resolve_env(container, &self.sources())
    }
}

fn resources(limits: &[(&str, &str)], requests: &[(&str, &str)]) -> ResourceRequirements {
    let list = |items: &[(&str, &str)]| {
        Some(
            items
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect(),
        )
    };
    ResourceRequirements {
        limits: list(limits),
        requests: list(requests),
        ..ResourceRequirements::default()
    }
}

fn value(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn from(name: &str, source: EnvVarSource) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(source),
    }
}

fn field(path: &str) -> EnvVarSource {
    EnvVarSource {
        field_ref: Some(ObjectFieldSelector {
            api_version: Some("v1".into()),
            field_path: path.into(),
        }),
        ..EnvVarSource::default()
    }
}

fn resource(name: &str, divisor: Option<&str>, container: Option<&str>) -> EnvVarSource {
    EnvVarSource {
        resource_field_ref: Some(ResourceFieldSelector {
            container_name: container.map(String::from),
            divisor: divisor.map(|d| Quantity(d.into())),
            resource: name.into(),
        }),
        ..EnvVarSource::default()
    }
}

fn container(env: Vec<EnvVar>) -> Container {
    Container {
        name: "app".into(),
        env: Some(env),
        resources: Some(resources(&[("cpu", "1500m")], &[("memory", "100Mi")])),
        ..Container::default()
    }
}

#[test]
fn expansion_follows_kubernetes_rules() {
    let vars = BTreeMap::from([("A", "alpha"), ("EMPTY", "")]);
    let lookup = |name: &str| vars.get(name).copied();
    let cases = [
        ("$(A)", "alpha"),
        ("x$(A)y$(A)", "xalphayalpha"),
        ("$(MISSING)", "$(MISSING)"),
        ("$$(A)", "$(A)"),
        ("$$$(A)", "$alpha"),
        ("$(A", "$(A"),
        ("$A", "$A"),
        ("end$", "end$"),
        ("$(EMPTY)|", "|"),
        ("$()", "$()"),
        ("ünï$(A)cødé", "ünïalphacødé"),
    ];
    for (input, expected) in cases {
        assert_eq!(expand(input, lookup), expected, "{input}");
    }
}

#[test]
fn values_expand_against_earlier_variables_and_services_only() {
    let world = World::new();
    let env = world
        .resolve(&container(vec![
            value("LATER_REF", "$(FIRST)"),
            value("FIRST", "one"),
            value("SECOND", "$(FIRST)-two $(API_SERVICE_HOST)"),
        ]))
        .expect("resolves");
    assert_eq!(env.get("LATER_REF"), Some("$(FIRST)"));
    assert_eq!(env.get("SECOND"), Some("one-two 127.96.0.10"));
    assert_eq!(env.get("API_SERVICE_HOST"), Some("127.96.0.10"));
}

#[test]
fn field_refs_read_the_pod() {
    let world = World::new();
    let env = world
        .resolve(&container(vec![
            from("NAME", field("metadata.name")),
            from("NS", field("metadata.namespace")),
            from("UID", field("metadata.uid")),
            from("APP", field("metadata.labels['app']")),
            from("NONE", field("metadata.annotations['nope']")),
            from("ALL", field("metadata.annotations")),
            from("NODE", field("spec.nodeName")),
            from("SA", field("spec.serviceAccountName")),
            from("POD_IP", field("status.podIP")),
            from("POD_IPS", field("status.podIPs")),
            from("HOST_IP", field("status.hostIP")),
        ]))
        .expect("resolves");
    let expected = [
        ("NAME", "web-1"),
        ("NS", "shop"),
        ("UID", "uid-1"),
        ("APP", "web"),
        ("NONE", ""),
        ("ALL", "a=\"one\"\nb=\"two \\\"quoted\\\"\""),
        ("NODE", "node-1"),
        ("SA", "default"),
        ("POD_IP", "127.128.0.2"),
        ("POD_IPS", "127.128.0.2"),
        ("HOST_IP", "127.128.0.1"),
    ];
    for (name, value) in expected {
        assert_eq!(env.get(name), Some(value), "{name}");
    }
    let error = world
        .resolve(&container(vec![from("X", field("spec.hostname"))]))
        .unwrap_err();
    assert_eq!(error.to_string(), "unsupported fieldPath: spec.hostname");
}

#[test]
fn resource_refs_divide_and_round_up() {
    let world = World::new();
    let env = world
        .resolve(&container(vec![
            from("CPU", resource("limits.cpu", None, None)),
            from("CPU_M", resource("limits.cpu", Some("1m"), None)),
            from("MEM_REQ_MI", resource("requests.memory", Some("1Mi"), None)),
            from("MEM_LIMIT", resource("limits.memory", Some("1Gi"), None)),
            from("CPU_REQ", resource("requests.cpu", None, None)),
            from(
                "SIDE_MEM",
                resource("limits.memory", Some("1Mi"), Some("side")),
            ),
            from(
                "SIDE_CPU",
                resource("requests.cpu", Some("1m"), Some("side")),
            ),
        ]))
        .expect("resolves");
    let expected = [
        ("CPU", "2"),
        ("CPU_M", "1500"),
        ("MEM_REQ_MI", "100"),
        ("MEM_LIMIT", "8"),
        ("CPU_REQ", "0"),
        ("SIDE_MEM", "64"),
        ("SIDE_CPU", "250"),
    ];
    for (name, value) in expected {
        assert_eq!(env.get(name), Some(value), "{name}");
    }
    let error = world
        .resolve(&container(vec![from(
            "X",
            resource("limits.gpu", None, None),
        )]))
        .unwrap_err();
    assert_eq!(error, EnvError::UnsupportedResource("limits.gpu".into()));
}

#[test]
fn config_map_and_secret_refs_resolve_or_fail_unless_optional() {
    let world = World::new();
    let key = |name: &str, key: &str, optional: Option<bool>| EnvVarSource {
        config_map_key_ref: Some(ConfigMapKeySelector {
            name: name.into(),
            key: key.into(),
            optional,
        }),
        ..EnvVarSource::default()
    };
    let secret = |name: &str, key: &str, optional: Option<bool>| EnvVarSource {
        secret_key_ref: Some(SecretKeySelector {
            name: name.into(),
            key: key.into(),
            optional,
        }),
        ..EnvVarSource::default()
    };
    let env = world
        .resolve(&container(vec![
            from("LEVEL", key("settings", "LEVEL", None)),
            from("PASSWORD", secret("db", "password", None)),
            from("SKIPPED", key("settings", "nope", Some(true))),
            from("SKIPPED_TOO", secret("absent", "x", Some(true))),
        ]))
        .expect("resolves");
    assert_eq!(env.get("LEVEL"), Some("debug"));
    assert_eq!(env.get("PASSWORD"), Some("s3cret"));
    assert_eq!(env.get("SKIPPED"), None);
    assert_eq!(env.get("SKIPPED_TOO"), None);

    let failures = [
        (
            key("settings", "nope", None),
            "couldn't find key nope in ConfigMap shop/settings",
        ),
        (
            key("absent", "x", Some(false)),
            "couldn't get configMap shop/absent: configmaps \"absent\" not found",
        ),
        (
            secret("db", "user", None),
            "couldn't find key user in Secret shop/db",
        ),
        (
            secret("absent", "x", None),
            "couldn't get secret shop/absent: secrets \"absent\" not found",
        ),
    ];
    for (source, message) in failures {
        let error = world
            .resolve(&container(vec![from("X", source)]))
            .unwrap_err();
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn env_from_adds_prefixed_keys_skips_invalid_ones_and_env_overrides() {
    let world = World::new();
    let mut app = container(vec![value("CFG_LEVEL", "override")]);
    app.env_from = Some(vec![
        EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: "settings".into(),
                optional: None,
            }),
            prefix: Some("CFG_".into()),
            secret_ref: None,
        },
        EnvFromSource {
            config_map_ref: None,
            prefix: None,
            secret_ref: Some(SecretEnvSource {
                name: "db".into(),
                optional: None,
            }),
        },
        EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: "absent".into(),
                optional: Some(true),
            }),
            prefix: None,
            secret_ref: None,
        },
    ]);
    let env = world.resolve(&app).expect("resolves");
    assert_eq!(env.get("CFG_LEVEL"), Some("override"));
    assert_eq!(env.get("password"), Some("s3cret"));
    assert_eq!(env.skipped.len(), 1);
    assert_eq!(
        env.skipped[0].event_message("shop"),
        "Keys [CFG_bad=key] from the EnvFrom configMap shop/settings were skipped since they are considered invalid environment variable names."
    );
    app.env_from = Some(vec![EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource {
            name: "absent".into(),
            optional: None,
        }),
        prefix: None,
        secret_ref: None,
    }]);
    assert!(matches!(
        world.resolve(&app),
        Err(EnvError::ConfigMapNotFound { .. })
    ));
}

#[test]
fn command_and_args_expand_against_the_environment() {
    let world = World::new();
    let mut app = container(vec![value("GREETING", "hello")]);
    app.command = Some(vec![
        "sh".into(),
        "-c".into(),
        "echo $(GREETING) $$(GREETING)".into(),
    ]);
    app.args = Some(vec!["$(MISSING)".into()]);
    let env = world.resolve(&app).expect("resolves");
    let (command, args) = expand_command_and_args(&app, &env);
    assert_eq!(command, ["sh", "-c", "echo hello $(GREETING)"]);
    assert_eq!(args, ["$(MISSING)"]);
}

proptest! {
    #[test]
    fn expansion_never_panics_and_is_identity_without_dollars(input in "\\PC{0,40}") {
        let output = expand(&input, |name| (name == "X").then_some("y"));
        if !input.contains('$') {
            prop_assert_eq!(output, input);
        }
    }

    #[test]
    fn arbitrary_field_paths_and_resources_never_panic(path in "\\PC{0,30}", divisor in "\\PC{0,8}") {
        let world = World::new();
        let _ = world.resolve(&container(vec![
            from("A", field(&path)),
            from("B", resource(&path, Some(&divisor), None)),
            from("C", resource("limits.cpu", Some(&divisor), None)),
        ]));
    }
}
