//! Nothing panics on input: request routing, query and header parsing, continue tokens, and the
//! whole handler pipeline (a real `ApiServer` on the memory store) take arbitrary requests and
//! answer either a reply or a `metav1.Status`-shaped error.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use bulwark_apiserver::http::{Incoming, Reply};
use bulwark_apiserver::negotiate::{body_format, representation};
use bulwark_apiserver::pagination::ContinueToken;
use bulwark_apiserver::request::{Query, route};
use bulwark_apiserver::{ApiServer, CacheConfig, handlers};
use bulwark_core::clock::SystemClock;
use http::{HeaderMap, HeaderValue, Method, header};
use proptest::prelude::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Pure parsers
// ---------------------------------------------------------------------------------------------

/// Paths that look like API paths, with arbitrary segments mixed in.
fn api_path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("api".to_string()),
        Just("apis".to_string()),
        Just("v1".to_string()),
        Just("apps".to_string()),
        Just("namespaces".to_string()),
        Just("default".to_string()),
        Just("pods".to_string()),
        Just("deployments".to_string()),
        Just("configmaps".to_string()),
        Just("status".to_string()),
        Just("scale".to_string()),
        Just("finalize".to_string()),
        Just("..".to_string()),
        Just(".".to_string()),
        Just(String::new()),
        "[a-z0-9.-]{1,12}",
        "\\PC{0,8}",
    ];
    prop::collection::vec(segment, 0..9).prop_map(|segments| format!("/{}", segments.join("/")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn route_never_panics_on_arbitrary_strings(path in "\\PC*") {
        if let Err(error) = route(&path) {
            prop_assert!(error.code >= 400);
        }
    }

    #[test]
    fn route_never_panics_on_api_like_paths(path in api_path()) {
        if let Err(error) = route(&path) {
            prop_assert!(matches!(error.code, 400 | 404), "{path}: {}", error.code);
        }
    }

    #[test]
    fn query_parsing_never_panics(raw in "\\PC*", name in "[a-zA-Z]{0,12}") {
        let query = Query::parse(Some(&raw));
        let _ = query.get(&name);
        let _ = query.flag(&name);
        if let Err(error) = query.integer(&name) {
            prop_assert_eq!(error.code, 400);
        }
        if let Err(error) = query.dry_run() {
            prop_assert_eq!(error.code, 400);
        }
    }

    #[test]
    fn query_values_with_escapes_never_panic(value in "(%[0-9a-fA-F]{0,2}|[^%&]){0,20}") {
        let query = Query::parse(Some(&format!("limit={value}&dryRun={value}&watch={value}")));
        let _ = query.integer("limit");
        let _ = query.dry_run();
        let _ = query.flag("watch");
    }

    #[test]
    fn accept_negotiation_never_panics(accept in "\\PC*") {
        if let Err(error) = representation(Some(&accept)) {
            prop_assert_eq!(error.code, 406);
        }
    }

    #[test]
    fn accept_negotiation_of_media_type_lists_never_panics(
        types in prop::collection::vec(
            prop_oneof![
                Just("application/json".to_string()),
                Just("application/json;as=Table;v=v1;g=meta.k8s.io".to_string()),
                Just("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io".to_string()),
                Just("application/vnd.kubernetes.protobuf".to_string()),
                Just("*/*".to_string()),
                "[a-z/;=*.,]{0,30}",
            ],
            0..5,
        )
    ) {
        let _ = representation(Some(&types.join(",")));
    }

    #[test]
    fn content_type_parsing_never_panics(content_type in "\\PC*") {
        if let Err(error) = body_format(Some(&content_type)) {
            prop_assert_eq!(error.code, 415);
        }
    }

    #[test]
    fn continue_token_decoding_never_panics(raw in "\\PC*") {
        if let Err(error) = ContinueToken::decode(&raw) {
            prop_assert_eq!(error.code, 400);
        }
    }

    #[test]
    fn continue_token_decoding_of_base64_never_panics(raw in "[A-Za-z0-9_=-]{0,64}") {
        let _ = ContinueToken::decode(&raw);
    }

    #[test]
    fn continue_tokens_round_trip(revision in any::<i64>(), after_key in "\\PC*", prefix in "\\PC*") {
        let token = ContinueToken { revision, after_key, prefix };
        prop_assert_eq!(ContinueToken::decode(&token.encode()).expect("a token we made decodes"), token);
    }
}

// ---------------------------------------------------------------------------------------------
// The whole pipeline
// ---------------------------------------------------------------------------------------------

struct Harness {
    runtime: tokio::runtime::Runtime,
    server: Arc<ApiServer>,
}

/// One server for every case: state accumulates, which only widens what the cases exercise.
fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let server = runtime.block_on(async {
            let store = bulwark_store::open_store("memory").expect("memory store");
            ApiServer::start(
                store,
                Arc::new(SystemClock),
                CacheConfig::default(),
                "127.0.0.1:0".into(),
            )
            .await
            .expect("server starts")
        });
        Harness { runtime, server }
    })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::PATCH),
        Just(Method::DELETE),
        Just(Method::HEAD),
        Just(Method::OPTIONS),
    ]
}

fn resource_path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/api/v1/namespaces/default/configmaps".to_string()),
        Just("/api/v1/namespaces/default/configmaps/fuzz".to_string()),
        Just("/api/v1/namespaces/default/pods".to_string()),
        Just("/api/v1/namespaces/default/pods/fuzz".to_string()),
        Just("/api/v1/namespaces/default/pods/fuzz/status".to_string()),
        Just("/api/v1/namespaces/default/pods/fuzz/binding".to_string()),
        Just("/api/v1/namespaces/default/pods/fuzz/eviction".to_string()),
        Just("/api/v1/namespaces/fuzz".to_string()),
        Just("/api/v1/namespaces/fuzz/finalize".to_string()),
        Just("/api/v1/nodes/fuzz".to_string()),
        Just("/apis/apps/v1/namespaces/default/deployments".to_string()),
        Just("/apis/apps/v1/namespaces/default/deployments/fuzz".to_string()),
        Just("/apis/apps/v1/namespaces/default/deployments/fuzz/scale".to_string()),
        Just("/apis/apps/v1/namespaces/default/deployments/fuzz/status".to_string()),
        Just("/apis/batch/v1/namespaces/default/jobs/fuzz".to_string()),
        Just("/apis/coordination.k8s.io/v1/namespaces/default/leases/fuzz".to_string()),
        api_path(),
    ]
}

fn query() -> impl Strategy<Value = Option<String>> {
    let parameter = prop_oneof![
        Just("dryRun=All".to_string()),
        Just("fieldValidation=Strict".to_string()),
        Just("fieldValidation=Warn".to_string()),
        Just("fieldManager=fuzz".to_string()),
        Just("force=true".to_string()),
        Just("limit=1".to_string()),
        "labelSelector=[a-z=!,()% ]{0,12}",
        "fieldSelector=[a-z.=!,]{0,20}",
        "continue=[A-Za-z0-9_-]{0,20}",
        "resourceVersion=[0-3a-z]{0,2}",
        "gracePeriodSeconds=-?[0-9]{0,3}",
        "propagationPolicy=[A-Za-z]{0,10}",
        "\\PC{0,16}",
    ];
    prop::option::of(
        prop::collection::vec(parameter, 0..4).prop_map(|parameters| parameters.join("&")),
    )
}

/// JSON values of bounded size and depth.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("metadata".to_string()),
                    Just("name".to_string()),
                    Just("spec".to_string()),
                    Just("status".to_string()),
                    Just("data".to_string()),
                    Just("containers".to_string()),
                    Just("replicas".to_string()),
                    Just("op".to_string()),
                    Just("path".to_string()),
                    "[a-zA-Z$]{0,8}",
                ],
                inner,
                0..6,
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A body near a valid object: a known manifest with one part replaced by arbitrary JSON.
fn mutated_manifest() -> impl Strategy<Value = Vec<u8>> {
    let manifests = vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fuzz"}, "data": {"k": "v"}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fuzz", "labels": {"app": "fuzz"}},
            "spec": {"containers": [{"name": "app", "image": "bulwark/demo", "ports": [{"containerPort": 80}]}]}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fuzz"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "fuzz"}},
                "template": {"metadata": {"labels": {"app": "fuzz"}}, "spec": {"containers": [{"name": "app", "image": "bulwark/demo"}]}}}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fuzz"}}),
        json!([{"op": "replace", "path": "/spec/replicas", "value": 3}]),
    ];
    let pointers = [
        "/metadata",
        "/metadata/name",
        "/metadata/labels",
        "/spec",
        "/spec/containers",
        "/spec/containers/0",
        "/spec/replicas",
        "/spec/selector",
        "/spec/template/spec",
        "/data",
        "/kind",
        "/apiVersion",
        "/0/path",
        "/0/value",
    ];
    (
        prop::sample::select(manifests),
        prop::sample::select(pointers.to_vec()),
        json_value(),
    )
        .prop_map(|(mut manifest, pointer, replacement)| {
            if let Some(slot) = manifest.pointer_mut(pointer) {
                *slot = replacement;
            }
            serde_json::to_vec(&manifest).expect("serialises")
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        mutated_manifest(),
        json_value().prop_map(|value| serde_json::to_vec(&value).expect("serialises")),
        prop::collection::vec(any::<u8>(), 0..64),
        "\\PC{0,64}".prop_map(String::into_bytes),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("application/json".to_string()),
        Just("application/yaml".to_string()),
        Just("application/json-patch+json".to_string()),
        Just("application/merge-patch+json".to_string()),
        Just("application/strategic-merge-patch+json".to_string()),
        Just("application/apply-patch+yaml".to_string()),
        "\\PC{0,20}",
    ])
}

fn accept() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("application/json".to_string()),
        Just("application/json;as=Table;v=v1;g=meta.k8s.io".to_string()),
        Just("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io".to_string()),
        "\\PC{0,20}",
    ])
}

/// The kinds the coherent requests address: collection path, manifest.
fn kinds() -> Vec<(&'static str, Value)> {
    vec![
        (
            "/api/v1/namespaces/default/configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fuzz"}, "data": {"k": "v"}}),
        ),
        (
            "/api/v1/namespaces/default/pods",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fuzz", "labels": {"app": "fuzz"}},
                "spec": {"containers": [{"name": "app", "image": "bulwark/demo"}]}}),
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fuzz"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "fuzz"}},
                    "template": {"metadata": {"labels": {"app": "fuzz"}}, "spec": {"containers": [{"name": "app", "image": "bulwark/demo"}]}}}}),
        ),
        (
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fuzz"}}),
        ),
        (
            "/api/v1/nodes",
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "fuzz"}}),
        ),
        (
            "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "fuzz"}, "spec": {"holderIdentity": "a"}}),
        ),
    ]
}

/// A manifest, unchanged or with one part replaced by arbitrary JSON.
fn maybe_mutated(manifest: Value) -> impl Strategy<Value = Value> {
    let pointers = [
        "/metadata/name",
        "/metadata/labels",
        "/metadata/finalizers",
        "/metadata/resourceVersion",
        "/spec",
        "/spec/containers/0",
        "/spec/replicas",
        "/spec/selector",
        "/data",
        "/status",
    ];
    prop::option::of((prop::sample::select(pointers.to_vec()), json_value())).prop_map(
        move |mutation| {
            let mut manifest = manifest.clone();
            if let Some((pointer, replacement)) = mutation {
                match manifest.pointer_mut(pointer) {
                    Some(slot) => *slot = replacement,
                    None => {
                        if let Some((parent, key)) = pointer.rsplit_once('/')
                            && let Some(Value::Object(parent)) = manifest.pointer_mut(parent)
                        {
                            parent.insert(key.to_string(), replacement);
                        }
                    }
                }
            }
            manifest
        },
    )
}

/// A request that goes past routing: a verb that fits the path, a body near a valid one.
fn coherent_request() -> impl Strategy<Value = (Method, String, Vec<u8>, Option<String>)> {
    prop::sample::select(kinds()).prop_flat_map(|(collection, manifest)| {
        let item = format!("{collection}/fuzz");
        let verbs = prop_oneof![
            Just((Method::POST, collection.to_string(), "application/json")),
            Just((Method::PUT, item.clone(), "application/json")),
            Just((Method::PUT, format!("{item}/status"), "application/json")),
            Just((Method::PATCH, item.clone(), "application/merge-patch+json")),
            Just((Method::PATCH, item.clone(), "application/strategic-merge-patch+json")),
            Just((Method::PATCH, item.clone(), "application/apply-patch+yaml")),
            Just((Method::PATCH, item.clone(), "application/json-patch+json")),
            Just((Method::PATCH, format!("{item}/status"), "application/merge-patch+json")),
            Just((Method::PATCH, format!("{item}/scale"), "application/merge-patch+json")),
            Just((Method::DELETE, item.clone(), "application/json")),
            Just((Method::GET, item.clone(), "application/json")),
            Just((Method::GET, collection.to_string(), "application/json")),
        ];
        let json_patch = prop::collection::vec(
            (prop::sample::select(vec!["add", "remove", "replace", "test", "move", "copy", "bogus"]),
             prop::sample::select(vec!["/metadata/labels/x", "/spec/replicas", "/data/k", "/metadata/name", "/spec/containers/0", "/status", "/nope/deeper", "", "/"]),
             json_value())
                .prop_map(|(op, path, value)| json!({"op": op, "path": path, "from": "/metadata/labels", "value": value})),
            0..4,
        )
        .prop_map(Value::Array);
        (verbs, maybe_mutated(manifest), json_patch).prop_map(|((method, path, content_type), manifest, json_patch)| {
            let body = if content_type == "application/json-patch+json" { json_patch } else { manifest };
            (method, path, serde_json::to_vec(&body).expect("serialises"), Some(content_type.to_string()))
        })
    })
}

/// Sends one request through routing and the handlers; checks it answers and never with a panic.
fn check_request(
    method: Method,
    path: String,
    query: Option<String>,
    body: Vec<u8>,
    content_type: Option<String>,
    accept: Option<String>,
) -> Result<(), TestCaseError> {
    let harness = harness();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        (header::CONTENT_TYPE, &content_type),
        (header::ACCEPT, &accept),
    ] {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    // A watch would stream until its timeout; the pipeline up to the stream is what matters.
    let query = query.map(|q| format!("{q}&timeoutSeconds=1"));
    let incoming = Incoming {
        method,
        path: path.clone(),
        query: Query::parse(query.as_deref()),
        headers,
        body: Bytes::from(body),
    };
    let answer = harness.runtime.block_on(async {
        match route(&incoming.path) {
            Ok(route) => handlers::dispatch(&harness.server, route, &incoming).await,
            Err(error) => Err(error),
        }
    });
    match answer {
        Ok(
            Reply::Json { status, .. } | Reply::RawJson { status, .. } | Reply::Text { status, .. },
        ) => {
            prop_assert!(status.is_success(), "{path}: a reply with {status}");
        }
        Ok(Reply::Stream(_) | Reply::TextStream(_)) => {}
        Err(error) => {
            // 504 is upstream's answer to a resourceVersion the cache has not reached yet.
            prop_assert!(
                (400..500).contains(&error.code) || error.code == 504,
                "{path}: {} for client input: {}",
                error.code,
                error.message
            );
            let status = error.to_status();
            prop_assert_eq!(&status["kind"], "Status");
            prop_assert_eq!(&status["apiVersion"], "v1");
            prop_assert_eq!(&status["status"], "Failure");
            prop_assert_eq!(&status["code"], error.code);
            prop_assert!(status["reason"].as_str().is_some_and(|r| !r.is_empty()));
            prop_assert!(status["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_500, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_never_panic_and_fail_with_a_status(
        method in method(),
        path in resource_path(),
        query in query(),
        body in body(),
        content_type in content_type(),
        accept in accept(),
    ) {
        check_request(method, path, query, body, content_type, accept)?;
    }

    #[test]
    fn near_valid_requests_never_panic_and_fail_with_a_status(
        (method, path, body, content_type) in coherent_request(),
        query in query(),
        accept in accept(),
    ) {
        // Apply needs a field manager; without one it never gets past the first check.
        let query = Some(format!("fieldManager=fuzz&{}", query.unwrap_or_default()));
        check_request(method, path, query, body, content_type, accept)?;
    }
}
