//! The namespace, label and field selectors of a list or watch, as one predicate.

use bulwark_core::selector::{FieldSelector, LabelSelector};
use bulwark_core::{ApiError, ResourceInfo};
use serde_json::Value;

use crate::object;
use crate::request::{Query, ResourcePath};

pub struct Filter {
    resource: &'static ResourceInfo,
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
            resource: path.resource,
            namespace: path.namespace.clone(),
            labels,
            fields,
        })
    }

    /// Whether any selector beyond the namespace is set (upstream then omits remainingItemCount).
    pub fn selects(&self) -> bool {
        self.labels.is_some() || self.fields.is_some()
    }

    pub fn matches(&self, candidate: &Value) -> bool {
        if let Some(namespace) = &self.namespace
            && object::namespace(candidate) != Some(namespace.as_str())
        {
            return false;
        }
        self.labels
            .as_ref()
            .is_none_or(|labels| labels.matches_object(candidate))
            && self
                .fields
                .as_ref()
                .is_none_or(|fields| fields.matches_object(self.resource, candidate))
    }
}
