//! kubectl flows end to end: `kubectl apply --server-side`, `kubectl scale`, `--force-conflicts`.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::schema::Schema;

fn schema() -> Schema {
    let definitions = json!({
        "Deployment": {
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"$ref": "#/definitions/ObjectMeta"},
                "spec": {"$ref": "#/definitions/DeploymentSpec"},
                "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}
            }
        },
        "ObjectMeta": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "uid": {"type": "string"},
                "resourceVersion": {"type": "string"},
                "generation": {"type": "integer"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                "finalizers": {
                    "type": "array", "items": {"type": "string"},
                    "x-kubernetes-list-type": "set"
                },
                "managedFields": {"type": "array", "items": {"type": "object"}}
            }
        },
        "DeploymentSpec": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "selector": {
                    "type": "object",
                    "x-kubernetes-map-type": "atomic",
                    "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}}
                },
                "template": {
                    "type": "object",
                    "properties": {
                        "metadata": {"$ref": "#/definitions/ObjectMeta"},
                        "spec": {"$ref": "#/definitions/PodSpec"}
                    }
                }
            }
        },
        "PodSpec": {
            "type": "object",
            "properties": {
                "containers": {
                    "type": "array",
                    "items": {"$ref": "#/definitions/Container"},
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"]
                }
            }
        },
        "Container": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "image": {"type": "string"},
                "args": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"},
                "ports": {
                    "type": "array",
                    "items": {"type": "object", "properties": {
                        "containerPort": {"type": "integer"}, "protocol": {"type": "string"}
                    }},
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["containerPort", "protocol"]
                }
            }
        }
    });
    let Value::Object(definitions) = definitions else {
        unreachable!("literal is an object")
    };
    Schema::from_definitions(&definitions)
}

fn context<'a>(schema: &'a Schema, time: &'a str) -> WriteContext<'a> {
    WriteContext {
        schema,
        root_type: "Deployment",
        api_version: "apps/v1",
        subresource: None,
        time,
        reset_fields: None,
    }
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": image}]}
            }
        }
    })
}

fn entry<'v>(object: &'v Value, manager: &str) -> &'v Value {
    object["metadata"]["managedFields"]
        .as_array()
        .and_then(|entries| entries.iter().find(|e| e["manager"] == manager))
        .unwrap_or(&Value::Null)
}

/// What the API server would store: the caller assigns uid and resourceVersion on create.
fn stored(mut object: Value) -> Value {
    object["metadata"]["uid"] = json!("u-1");
    object["metadata"]["resourceVersion"] = json!("1");
    object
}

#[test]
fn server_side_apply_creates_and_records_the_applied_fields() {
    let schema = schema();
    let created = apply(
        None,
        &deployment(3, "nginx:1"),
        "kubectl",
        false,
        &context(&schema, "t1"),
    )
    .expect("create by apply");
    assert_eq!(created["spec"]["replicas"], 3);
    let kubectl = entry(&created, "kubectl");
    assert_eq!(kubectl["operation"], "Apply");
    assert_eq!(kubectl["apiVersion"], "apps/v1");
    assert_eq!(kubectl["fieldsType"], "FieldsV1");
    assert_eq!(kubectl["time"], "t1");
    assert_eq!(
        kubectl["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}
                }
            }
        })
    );
}

#[test]
fn applying_twice_with_a_changed_field_updates_it() {
    let schema = schema();
    let first = stored(
        apply(
            None,
            &deployment(3, "nginx:1"),
            "kubectl",
            false,
            &context(&schema, "t1"),
        )
        .expect("first apply"),
    );
    let second = apply(
        Some(&first),
        &deployment(3, "nginx:2"),
        "kubectl",
        false,
        &context(&schema, "t2"),
    )
    .expect("second apply");
    assert_eq!(
        second["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );
    assert_eq!(second["metadata"]["uid"], "u-1", "live-only fields survive");
    assert_eq!(entry(&second, "kubectl")["time"], "t2");
    assert_eq!(
        second["metadata"]["managedFields"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn reapplying_the_same_config_changes_nothing_and_keeps_the_time() {
    let schema = schema();
    let first = stored(
        apply(
            None,
            &deployment(3, "nginx:1"),
            "kubectl",
            false,
            &context(&schema, "t1"),
        )
        .expect("first apply"),
    );
    let again = apply(
        Some(&first),
        &deployment(3, "nginx:1"),
        "kubectl",
        false,
        &context(&schema, "t2"),
    )
    .expect("no-op apply");
    assert_eq!(again, first);
}

fn scaled_by_kubectl_scale(schema: &Schema) -> Value {
    let applied = stored(
        apply(
            None,
            &deployment(3, "nginx:1"),
            "kubectl",
            false,
            &context(schema, "t1"),
        )
        .expect("first apply"),
    );
    let mut scaled = applied.clone();
    scaled["spec"]["replicas"] = json!(5);
    track_update(
        Some(&applied),
        &scaled,
        "kubectl-scale",
        &context(schema, "t2"),
    )
}

#[test]
fn an_update_takes_the_changed_field_from_the_applier() {
    let schema = schema();
    let scaled = scaled_by_kubectl_scale(&schema);
    let scale = entry(&scaled, "kubectl-scale");
    assert_eq!(scale["operation"], "Update");
    assert_eq!(scale["apiVersion"], "apps/v1");
    assert_eq!(scale["time"], "t2");
    assert_eq!(scale["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    assert!(
        entry(&scaled, "kubectl")["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_none()
    );
    let order: Vec<&Value> = scaled["metadata"]["managedFields"]
        .as_array()
        .map(|entries| entries.iter().map(|e| &e["manager"]).collect())
        .unwrap_or_default();
    assert_eq!(
        order,
        ["kubectl", "kubectl-scale"],
        "Apply entries sort first"
    );
}

#[test]
fn applying_a_field_another_manager_changed_conflicts() {
    let schema = schema();
    let scaled = scaled_by_kubectl_scale(&schema);
    let error = apply(
        Some(&scaled),
        &deployment(3, "nginx:1"),
        "kubectl",
        false,
        &context(&schema, "t3"),
    )
    .expect_err("replicas is owned by kubectl-scale");
    assert_eq!((error.http_status(), error.reason()), (409, "Conflict"));
    let ApplyError::Conflict(conflict) = error else {
        panic!("expected a conflict, got {error:?}");
    };
    assert_eq!(
        conflict.to_string(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas"#
    );
    let causes = conflict.causes();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].field, ".spec.replicas");
    assert_eq!(
        causes[0].message,
        r#"conflict with "kubectl-scale" using apps/v1"#
    );
}

#[test]
fn applying_the_value_another_manager_set_shares_ownership() {
    let schema = schema();
    let scaled = scaled_by_kubectl_scale(&schema);
    let shared = apply(
        Some(&scaled),
        &deployment(5, "nginx:1"),
        "kubectl",
        false,
        &context(&schema, "t3"),
    )
    .expect("same value is no conflict");
    assert!(
        entry(&shared, "kubectl")["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_some()
    );
    assert!(
        entry(&shared, "kubectl-scale")["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_some()
    );
}

#[test]
fn forcing_moves_ownership_to_the_applier() {
    let schema = schema();
    let scaled = scaled_by_kubectl_scale(&schema);
    let forced = apply(
        Some(&scaled),
        &deployment(3, "nginx:1"),
        "kubectl",
        true,
        &context(&schema, "t3"),
    )
    .expect("force takes the field");
    assert_eq!(forced["spec"]["replicas"], 3);
    assert!(
        entry(&forced, "kubectl")["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_some()
    );
    assert_eq!(
        entry(&forced, "kubectl-scale"),
        &Value::Null,
        "empty entries are dropped"
    );
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let schema = schema();
    let scaled = scaled_by_kubectl_scale(&schema);
    let mut relabeled = scaled.clone();
    relabeled["metadata"]["labels"]["app"] = json!("other");
    let relabeled = track_update(Some(&scaled), &relabeled, "editor", &context(&schema, "t3"));
    let error = apply(
        Some(&relabeled),
        &deployment(3, "nginx:1"),
        "kubectl",
        false,
        &context(&schema, "t4"),
    )
    .expect_err("two conflicts");
    assert_eq!(
        error.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"editor\" using apps/v1:\n- .metadata.labels.app\nconflicts with \"kubectl-scale\" using apps/v1:\n- .spec.replicas"
    );
}

#[test]
fn a_field_dropped_from_the_config_is_removed() {
    let schema = schema();
    let mut config = deployment(3, "nginx:1");
    config["metadata"]["labels"]["tier"] = json!("front");
    let first =
        stored(apply(None, &config, "kubectl", false, &context(&schema, "t1")).expect("apply"));
    assert_eq!(first["metadata"]["labels"]["tier"], "front");
    let second = apply(
        Some(&first),
        &deployment(3, "nginx:1"),
        "kubectl",
        false,
        &context(&schema, "t2"),
    )
    .expect("apply without tier");
    assert!(second["metadata"]["labels"].get("tier").is_none());
    assert_eq!(second["metadata"]["labels"]["app"], "web");
}

#[test]
fn a_dropped_field_another_manager_owns_is_kept() {
    let schema = schema();
    let mut config = deployment(3, "nginx:1");
    config["metadata"]["labels"]["tier"] = json!("front");
    let first =
        stored(apply(None, &config, "kubectl", false, &context(&schema, "t1")).expect("apply"));
    let other = apply(
        Some(&first),
        &json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"tier": "front"}}
        }),
        "other",
        false,
        &context(&schema, "t2"),
    )
    .expect("co-own tier");
    let second = apply(
        Some(&other),
        &deployment(3, "nginx:1"),
        "kubectl",
        false,
        &context(&schema, "t3"),
    )
    .expect("apply without tier");
    assert_eq!(second["metadata"]["labels"]["tier"], "front");
}

#[test]
fn fields_set_by_updaters_survive_an_apply_that_never_had_them() {
    let schema = schema();
    let first = stored(
        apply(
            None,
            &deployment(3, "nginx:1"),
            "kubectl",
            false,
            &context(&schema, "t1"),
        )
        .expect("apply"),
    );
    let mut annotated = first.clone();
    annotated["metadata"]["annotations"] = json!({"note": "hi"});
    let annotated = track_update(Some(&first), &annotated, "editor", &context(&schema, "t2"));
    let again = apply(
        Some(&annotated),
        &deployment(3, "nginx:1"),
        "kubectl",
        false,
        &context(&schema, "t3"),
    )
    .expect("apply");
    assert_eq!(again["metadata"]["annotations"]["note"], "hi");
}

#[test]
fn keyed_containers_merge_by_name() {
    let schema = schema();
    let first = stored(
        apply(
            None,
            &deployment(3, "nginx:1"),
            "kubectl",
            false,
            &context(&schema, "t1"),
        )
        .expect("apply"),
    );
    let sidecar = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "log", "image": "fluent:1"}]}}}
    });
    let merged = apply(
        Some(&first),
        &sidecar,
        "sidecar-injector",
        false,
        &context(&schema, "t2"),
    )
    .expect("add a container");
    let names: Vec<&Value> = merged["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|items| items.iter().map(|c| &c["name"]).collect())
        .unwrap_or_default();
    assert_eq!(names, ["nginx", "log"]);

    // kubectl re-applies its own container only: the injector's container stays.
    let again = apply(
        Some(&stored(merged)),
        &deployment(3, "nginx:2"),
        "kubectl",
        false,
        &context(&schema, "t3"),
    )
    .expect("re-apply");
    let containers = &again["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["image"], "nginx:2");
    assert_eq!(containers[1]["name"], "log");
}

#[test]
fn removing_a_container_from_the_config_deletes_it() {
    let schema = schema();
    let mut config = deployment(3, "nginx:1");
    config["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "nginx", "image": "nginx:1"},
        {"name": "log", "image": "fluent:1"}
    ]);
    let first =
        stored(apply(None, &config, "kubectl", false, &context(&schema, "t1")).expect("apply"));
    let second = apply(
        Some(&first),
        &deployment(3, "nginx:1"),
        "kubectl",
        false,
        &context(&schema, "t2"),
    )
    .expect("apply one container");
    let containers = second["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(containers, [json!({"name": "nginx", "image": "nginx:1"})]);
}

#[test]
fn atomic_lists_and_maps_are_replaced_whole() {
    let schema = schema();
    let mut config = deployment(3, "nginx:1");
    config["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["a", "b"]);
    let first =
        stored(apply(None, &config, "kubectl", false, &context(&schema, "t1")).expect("apply"));
    config["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["c"]);
    config["spec"]["selector"] = json!({"matchLabels": {"tier": "x"}});
    let second = apply(
        Some(&first),
        &config,
        "kubectl",
        false,
        &context(&schema, "t2"),
    )
    .expect("apply");
    assert_eq!(
        second["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["c"])
    );
    assert_eq!(
        second["spec"]["selector"],
        json!({"matchLabels": {"tier": "x"}})
    );
}

#[test]
fn create_by_update_owns_every_field_set_but_metadata_identity() {
    let schema = schema();
    let mut object = deployment(2, "nginx:1");
    object["metadata"]["resourceVersion"] = json!("7");
    let created = track_update(None, &object, "kubectl-create", &context(&schema, "t1"));
    let fields = &entry(&created, "kubectl-create")["fieldsV1"];
    assert_eq!(entry(&created, "kubectl-create")["operation"], "Update");
    assert!(fields["f:spec"].get("f:replicas").is_some());
    assert!(fields["f:metadata"].get("f:labels").is_some());
    assert!(fields["f:metadata"].get("f:name").is_none());
    assert!(fields["f:metadata"].get("f:resourceVersion").is_none());
    assert!(fields["f:metadata"].get(".").is_none());
    assert!(
        fields["f:spec"].get(".").is_none(),
        "struct fields are always present"
    );
    assert!(
        fields["f:metadata"]["f:labels"].get(".").is_some(),
        "maps appear whole"
    );
    assert!(fields.get("f:apiVersion").is_none() && fields.get("f:kind").is_none());
}

#[test]
fn an_update_that_changes_nothing_keeps_managed_fields() {
    let schema = schema();
    let created = stored(track_update(
        None,
        &deployment(2, "nginx:1"),
        "a",
        &context(&schema, "t1"),
    ));
    let same = track_update(Some(&created), &created, "b", &context(&schema, "t2"));
    assert_eq!(
        same["metadata"]["managedFields"],
        created["metadata"]["managedFields"]
    );
}

#[test]
fn updates_are_not_tracked_on_objects_without_managed_fields() {
    let schema = schema();
    let untracked = stored(deployment(2, "nginx:1"));
    let mut changed = untracked.clone();
    changed["spec"]["replicas"] = json!(4);
    let result = track_update(Some(&untracked), &changed, "a", &context(&schema, "t1"));
    assert!(result["metadata"].get("managedFields").is_none());
}

#[test]
fn first_apply_to_an_untracked_object_records_before_first_apply() {
    let schema = schema();
    let untracked = stored(deployment(2, "nginx:1"));
    let error = apply(
        Some(&untracked),
        &deployment(3, "nginx:1"),
        "kubectl",
        false,
        &context(&schema, "t1"),
    )
    .expect_err("replicas belongs to before-first-apply");
    assert!(
        error
            .to_string()
            .contains(r#"conflict with "before-first-apply" using apps/v1: .spec.replicas"#)
    );
}

#[test]
fn managed_fields_can_be_reset_by_an_update() {
    let schema = schema();
    let created = stored(track_update(
        None,
        &deployment(2, "nginx:1"),
        "a",
        &context(&schema, "t1"),
    ));
    let mut reset = created.clone();
    reset["metadata"]["managedFields"] = json!([]);
    let result = track_update(Some(&created), &reset, "b", &context(&schema, "t2"));
    assert!(result["metadata"].get("managedFields").is_none());
}

#[test]
fn reset_fields_are_neither_owned_nor_conflicting() {
    let schema = schema();
    let status_only = status_subresource_reset_fields(None);
    let main = WriteContext {
        reset_fields: Some(&status_only),
        ..context(&schema, "t1")
    };
    let mut config = deployment(2, "nginx:1");
    config["status"] = json!({"replicas": 9});
    let created = apply(None, &config, "kubectl", false, &main).expect("apply");
    assert!(
        entry(&created, "kubectl")["fieldsV1"]
            .get("f:status")
            .is_none()
    );
}

#[test]
fn status_writes_are_recorded_per_subresource() {
    let schema = schema();
    let created = stored(track_update(
        None,
        &deployment(2, "nginx:1"),
        "a",
        &context(&schema, "t1"),
    ));
    let mut with_status = created.clone();
    with_status["status"] = json!({"replicas": 2});
    let status = WriteContext {
        subresource: Some("status"),
        ..context(&schema, "t2")
    };
    let result = track_update(Some(&created), &with_status, "controller", &status);
    let controller = entry(&result, "controller");
    assert_eq!(controller["subresource"], "status");
    assert_eq!(
        controller["fieldsV1"],
        json!({"f:status": {"f:replicas": {}}})
    );
}

#[test]
fn bad_apply_requests_are_rejected() {
    let schema = schema();
    let mut with_managed = deployment(1, "x");
    with_managed["metadata"]["managedFields"] = json!([]);
    assert!(matches!(
        apply(None, &with_managed, "m", false, &context(&schema, "t")),
        Err(ApplyError::BadRequest(_))
    ));
    let mut other_version = deployment(1, "x");
    other_version["apiVersion"] = json!("apps/v1beta1");
    assert!(matches!(
        apply(None, &other_version, "m", false, &context(&schema, "t")),
        Err(ApplyError::BadRequest(_))
    ));
    let mut duplicated = deployment(1, "x");
    duplicated["spec"]["template"]["spec"]["containers"] = json!([{"name": "a"}, {"name": "a"}]);
    let error =
        apply(None, &duplicated, "m", false, &context(&schema, "t")).expect_err("duplicate keys");
    assert_eq!(
        error.to_string(),
        r#"failed to create typed patch object: .spec.template.spec.containers: duplicate entries for key [name="a"]"#
    );
    assert_eq!(error.http_status(), 422);
}

#[test]
fn update_managers_are_capped_into_ancient_changes() {
    let schema = schema();
    let mut object = stored(track_update(
        None,
        &deployment(0, "nginx:1"),
        "creator",
        &context(&schema, "t00"),
    ));
    for step in 1..=12 {
        let mut next = object.clone();
        next["metadata"]["labels"][format!("l{step}")] = json!("x");
        let time = format!("t{step:02}");
        object = track_update(
            Some(&object),
            &next,
            &format!("writer-{step}"),
            &context(&schema, &time),
        );
    }
    let entries = object["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(entries.len(), MAX_UPDATE_MANAGERS);
    assert!(entries.iter().any(|e| e["manager"] == "ancient-changes"));
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(|n| json!(n)),
        "[a-c]{0,2}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("spec".to_string()),
                    Just("containers".to_string()),
                    Just("template".to_string()),
                    Just("metadata".to_string()),
                    Just("labels".to_string()),
                    "[a-c]".prop_map(String::from),
                ],
                inner,
                0..4
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn with_managed_fields(mut object: Value, managed_fields: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.insert("metadata".into(), json!({"managedFields": managed_fields}));
    }
    object
}

fn arb_managed_fields() -> impl Strategy<Value = Value> {
    let fields = prop_oneof![
        Just(json!({"f:spec": {"f:replicas": {}}})),
        Just(json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}})),
        Just(json!({"k:{\"name\":\"a\"}": {".": {}}, "v:1": {}, "i:0": {}})),
        arb_json(),
    ];
    prop::collection::vec(
        (
            prop_oneof![Just("Apply"), Just("Update"), Just("Other")],
            prop_oneof![Just("m"), Just("u"), Just("x")],
            fields,
        )
            .prop_map(|(operation, manager, fields)| {
                json!({"manager": manager, "operation": operation, "apiVersion": "apps/v1",
                       "fieldsType": "FieldsV1", "fieldsV1": fields})
            }),
        0..3,
    )
    .prop_map(Value::Array)
}

proptest! {
    #[test]
    fn apply_and_track_never_panic_on_arbitrary_managed_fields(
        live in arb_json(),
        managed_fields in arb_managed_fields(),
        config in arb_json(),
        force in any::<bool>(),
    ) {
        let schema = schema();
        let context = context(&schema, "t");
        let live = with_managed_fields(live, managed_fields);
        let mut config = config;
        if let Some(map) = config.as_object_mut() {
            map.insert("apiVersion".into(), json!("apps/v1"));
        }
        let _ = apply(Some(&live), &config, "m", force, &context);
        let _ = track_update(Some(&live), &config, "u", &context);
        let _ = track_update(Some(&config), &live, "u", &context);
    }

    #[test]
    fn apply_and_track_never_panic(live in arb_json(), config in arb_json(), force in any::<bool>()) {
        let schema = schema();
        let context = context(&schema, "t");
        let mut config = config;
        if let Some(map) = config.as_object_mut() {
            map.insert("apiVersion".into(), json!("apps/v1"));
        }
        let _ = apply(Some(&live), &config, "m", force, &context);
        let _ = apply(None, &config, "m", force, &context);
        let _ = track_update(Some(&live), &config, "u", &context);
        let _ = track_update(None, &live, "u", &context);
    }

    #[test]
    fn applied_config_values_are_in_the_result(replicas in 0i64..10, image in "[a-z]{1,5}") {
        let schema = schema();
        let first = stored(apply(None, &deployment(1, "a"), "kubectl", false, &context(&schema, "t1")).expect("apply"));
        let result = apply(Some(&first), &deployment(replicas, &image), "kubectl", false, &context(&schema, "t2")).expect("apply");
        prop_assert_eq!(&result["spec"]["replicas"], &json!(replicas));
        prop_assert_eq!(&result["spec"]["template"]["spec"]["containers"][0]["image"], &json!(image));
    }
}

// Scenarios after structured-merge-diff's merge/multiple_appliers_test.go.

fn nested_schema() -> Schema {
    let definitions = json!({
        "Nested": {
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "listOfLists": {
                    "type": "array",
                    "items": {"type": "object", "properties": {
                        "name": {"type": "string"},
                        "value": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}
                    }},
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"]
                },
                "struct": {"type": "object", "properties": {
                    "name": {"type": "string"}, "scalarField": {"type": "string"}
                }}
            }
        }
    });
    let Value::Object(definitions) = definitions else {
        unreachable!("literal is an object")
    };
    Schema::from_definitions(&definitions)
}

enum Op {
    Apply(&'static str, Value),
    Update(&'static str, Value),
}

fn run(schema: &Schema, ops: Vec<Op>) -> Value {
    let context = WriteContext {
        root_type: "Nested",
        api_version: "v1",
        ..context(schema, "t")
    };
    let mut live: Option<Value> = None;
    for op in ops {
        live = Some(match op {
            Op::Apply(manager, mut config) => {
                config["apiVersion"] = json!("v1");
                apply(live.as_ref(), &config, manager, false, &context).expect("no conflict")
            }
            Op::Update(manager, mut object) => {
                object["apiVersion"] = json!("v1");
                if let Some(managed) = live
                    .as_ref()
                    .and_then(|l| l["metadata"].get("managedFields"))
                {
                    object["metadata"] = json!({"managedFields": managed});
                }
                track_update(live.as_ref(), &object, manager, &context)
            }
        });
    }
    live.unwrap_or_default()
}

fn owned(object: &Value, manager: &str) -> Vec<String> {
    FieldSet::from_fields_v1(&entry(object, manager)["fieldsV1"])
        .map(|set| set.paths().iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

fn without_metadata(mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.remove("metadata");
        map.remove("apiVersion");
    }
    object
}

#[test]
fn removing_a_keyed_item_keeps_the_other_appliers_item() {
    let schema = nested_schema();
    let result = run(
        &schema,
        vec![
            Op::Apply(
                "apply-one",
                json!({"listOfLists": [{"name": "a"}, {"name": "b"}]}),
            ),
            Op::Apply("apply-two", json!({"listOfLists": [{"name": "c"}]})),
            Op::Apply("apply-one", json!({"listOfLists": [{"name": "a"}]})),
        ],
    );
    assert_eq!(
        without_metadata(result.clone()),
        json!({"listOfLists": [{"name": "a"}, {"name": "c"}]})
    );
    assert_eq!(
        owned(&result, "apply-one"),
        [
            r#".listOfLists[name="a"]"#,
            r#".listOfLists[name="a"].name"#
        ]
    );
    assert_eq!(
        owned(&result, "apply-two"),
        [
            r#".listOfLists[name="c"]"#,
            r#".listOfLists[name="c"].name"#
        ]
    );
}

#[test]
fn removing_an_item_keeps_sub_items_others_own_and_drops_dangling_ones() {
    let schema = nested_schema();
    let result = run(
        &schema,
        vec![
            Op::Apply(
                "apply-one",
                json!({"listOfLists": [{"name": "a"}, {"name": "b", "value": ["c"]}]}),
            ),
            Op::Apply(
                "apply-two",
                json!({"listOfLists": [{"name": "b", "value": ["d"]}]}),
            ),
            Op::Update(
                "controller",
                json!({"listOfLists": [{"name": "a"}, {"name": "b", "value": ["c", "d", "e"]}]}),
            ),
            Op::Apply("apply-one", json!({"listOfLists": [{"name": "a"}]})),
        ],
    );
    assert_eq!(
        without_metadata(result.clone()),
        json!({"listOfLists": [{"name": "a"}, {"name": "b", "value": ["d", "e"]}]})
    );
    assert_eq!(
        owned(&result, "apply-two"),
        [
            r#".listOfLists[name="b"]"#,
            r#".listOfLists[name="b"].name"#,
            r#".listOfLists[name="b"].value[="d"]"#,
        ]
    );
    assert_eq!(
        owned(&result, "controller"),
        [r#".listOfLists[name="b"].value[="e"]"#]
    );
}

#[test]
fn unsetting_a_scalar_an_updater_also_set_keeps_it() {
    let schema = nested_schema();
    let result = run(
        &schema,
        vec![
            Op::Update(
                "updater",
                json!({"struct": {"name": "a", "scalarField": "a"}}),
            ),
            Op::Apply(
                "applier",
                json!({"struct": {"name": "a", "scalarField": "a"}}),
            ),
            Op::Apply("applier", json!({"struct": {"name": "a"}})),
        ],
    );
    assert_eq!(
        without_metadata(result.clone()),
        json!({"struct": {"name": "a", "scalarField": "a"}})
    );
    assert_eq!(owned(&result, "applier"), [".struct.name"]);
    assert_eq!(
        owned(&result, "updater"),
        [".struct.name", ".struct.scalarField"]
    );
}
