//! The namespace, label and field selectors of a list or watch, as one predicate.

use crate::entry::Index;
use crate::request::{Query, ResourcePath};
use bulwark_core::ApiError;
use bulwark_core::selector::{FieldSelector, LabelSelector};

pub struct Filter {
    namespace: Option<String>,
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    pub fn from_query(path: &ResourcePath, query: &Query) -> Result<Self, ApiError> {
        let labels = match query.get("labelSelector").filter(|s| !s.trim().is_empty()) {
            Some(raw) => Some(
                LabelSelector::parse(raw)
                    .map_err(|error| ApiError::bad_request(error.to_string()))?,
            ),
            None => None,
        };
        let fields = match query.get("fieldSelector").filter(|s| !s.trim().is_empty()) {
            Some(raw) => {
                let selector = FieldSelector::parse(raw)
                    .map_err(|error| ApiError::bad_request(error.to_string()))?;
                Some(
                    selector
                        .for_resource(path.resource)
                        .map_err(|error| ApiError::bad_request(error.to_string()))?,
                )
            }
            None => None,
        };
        Ok(Self {
            namespace: path.namespace.clone(),
            labels,
            fields,
        })
    }

    /// Whether any selector beyond the namespace is set (upstream then omits remainingItemCount).
    pub fn selects(&self) -> bool {
        self.labels.is_some() || self.fields.is_some()
    }

    /// Matches a cached object by its index alone. Field terms are converted (see
    /// [`FieldSelector::for_resource`]), the spelling the index keeps.
    pub fn matches(&self, candidate: &Index) -> bool {
        if let Some(namespace) = &self.namespace
            && candidate.namespace.as_deref() != Some(namespace.as_str())
        {
            return false;
        }
        self.labels
            .as_ref()
            .is_none_or(|labels| labels.matches_with(|key| candidate.label(key)))
            && self.fields.as_ref().is_none_or(|fields| {
                fields
                    .terms()
                    .iter()
                    .all(|term| term.matches_value(candidate.field(&term.field)))
            })
    }
}
