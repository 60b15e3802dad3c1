//! Selectors and owner references, shared by the controllers.

use std::collections::BTreeMap;

use bulwark_core::selector::LabelSelector;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector as ApiLabelSelector, ObjectMeta, OwnerReference,
};

use crate::Error;

/// A typed `metav1.LabelSelector` as a matcher, with upstream's meaning (null matches nothing).
pub fn selector(selector: Option<&ApiLabelSelector>) -> Result<LabelSelector, Error> {
    let json = selector.map(crate::runtime::to_json);
    LabelSelector::from_json(json.as_ref())
        .map_err(|error| Error::Invalid(format!("invalid selector: {}", error.message())))
}

pub fn labels(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// The owner reference with `controller: true`, if any.
pub fn controller_ref(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|owner| owner.controller == Some(true))
}

/// The reference a controller puts on what it creates or adopts.
pub fn controller_owner(api_version: &str, kind: &str, meta: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// How a candidate relates to a controller that selects with `selector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours and matching: keep it.
    Owned,
    /// An orphan that matches: adopt it.
    Adopt,
    /// Ours but no longer matching: release it.
    Release,
    /// Someone else's, or not matching: leave it alone.
    Ignore,
}

/// `ControllerRefManager.ClaimObject`: adoption and release by selector.
pub fn claim(
    candidate: &ObjectMeta,
    owner_uid: &str,
    owner_deleting: bool,
    selector: &LabelSelector,
) -> Claim {
    let matches = selector.matches(&labels(candidate));
    let deleting = candidate.deletion_timestamp.is_some();
    match controller_ref(candidate) {
        Some(owner) if owner.uid != owner_uid => Claim::Ignore,
        Some(_) if matches => Claim::Owned,
        Some(_) if deleting || owner_deleting => Claim::Ignore,
        Some(_) => Claim::Release,
        None if matches && !deleting && !owner_deleting => Claim::Adopt,
        None => Claim::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(labels: &[(&str, &str)], owner: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            owner_references: owner.map(|uid| {
                vec![OwnerReference {
                    uid: uid.into(),
                    controller: Some(true),
                    ..OwnerReference::default()
                }]
            }),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn claims_follow_the_selector_and_the_controller_ref() {
        let app = LabelSelector::from_set(&[("app".to_string(), "web".to_string())].into());
        assert_eq!(
            claim(&meta(&[("app", "web")], Some("me")), "me", false, &app),
            Claim::Owned
        );
        assert_eq!(
            claim(&meta(&[("app", "web")], None), "me", false, &app),
            Claim::Adopt
        );
        assert_eq!(
            claim(&meta(&[("app", "web")], None), "me", true, &app),
            Claim::Ignore
        );
        assert_eq!(
            claim(&meta(&[("app", "db")], Some("me")), "me", false, &app),
            Claim::Release
        );
        assert_eq!(
            claim(&meta(&[("app", "web")], Some("other")), "me", false, &app),
            Claim::Ignore
        );
        assert_eq!(
            claim(&meta(&[("app", "db")], None), "me", false, &app),
            Claim::Ignore
        );
    }

    #[test]
    fn a_null_selector_matches_nothing() {
        let none = selector(None).unwrap();
        assert_eq!(
            claim(&meta(&[("app", "web")], None), "me", false, &none),
            Claim::Ignore
        );
    }
}
