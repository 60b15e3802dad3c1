//! API errors as values, rendered as `metav1.Status` exactly as Kubernetes clients expect.
//!
//! Every error a user can cause becomes an [`ApiError`] with an HTTP code, a machine-readable
//! `reason`, a message a person can act on, and — for validation — one cause per bad field.

use serde_json::{Value, json};

/// One field-level cause in `status.details.causes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCause {
    /// Upstream's cause type: `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`,
    /// `FieldValueDuplicate`, `FieldValueForbidden`, `FieldValueTooLong`, `FieldValueTypeInvalid`,
    /// `UnexpectedServerResponse`, `DisruptionBudget`, `NamespaceTerminating`, …
    pub reason: String,
    pub message: String,
    /// JSON-path-like field reference such as `spec.containers[0].image`.
    pub field: String,
}

impl StatusCause {
    pub fn new(reason: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason: reason.to_string(),
            message: message.into(),
            field: field.into(),
        }
    }
}

/// A failed API request. Boxed so that `Result<T, ApiError>` stays one pointer wide on the
/// happy path; fields read through `Deref` (`error.code`, `error.causes`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {}: {}", .0.code, .0.reason, .0.message)]
pub struct ApiError(Box<ErrorDetails>);

/// The contents of an [`ApiError`]: what `metav1.Status` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetails {
    pub code: u16,
    pub reason: String,
    pub message: String,
    /// `details.group`, `details.kind`, `details.name` when the error concerns one object.
    pub group: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub causes: Vec<StatusCause>,
    /// `details.retryAfterSeconds`, sent for 429 and 5xx answers that are worth retrying.
    pub retry_after_seconds: Option<u32>,
}

impl std::ops::Deref for ApiError {
    type Target = ErrorDetails;

    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorDetails {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self(Box::new(ErrorDetails {
            code,
            reason: reason.to_string(),
            message: message.into(),
            group: None,
            kind: None,
            name: None,
            causes: Vec::new(),
            retry_after_seconds: None,
        }))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// `resource` is the plural, qualified with its group when it has one (`deployments.apps`).
    pub fn not_found(qualified_resource: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{qualified_resource} \"{name}\" not found"),
        )
        .with_details(qualified_resource, name)
    }

    pub fn already_exists(qualified_resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{qualified_resource} \"{name}\" already exists"),
        )
        .with_details(qualified_resource, name)
    }

    /// The message upstream gives for a stale resourceVersion, which kubectl users recognise.
    pub fn conflict(qualified_resource: &str, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {qualified_resource} \"{name}\": {why}"),
        )
        .with_details(qualified_resource, name)
    }

    pub fn stale_object(qualified_resource: &str, name: &str) -> Self {
        Self::conflict(
            qualified_resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 with one cause per invalid field; `kind` is the object's kind (`Pod`).
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<StatusCause>) -> Self {
        let detail = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect::<Vec<_>>();
        let joined = if detail.len() == 1 {
            detail[0].clone()
        } else {
            format!("[{}]", detail.join(", "))
        };
        let mut error = Self::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {joined}"),
        );
        error.group = Some(group.to_string());
        error.kind = Some(kind.to_string());
        error.name = Some(name.to_string());
        error.causes = causes;
        error
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {content_type:?})"
            ),
        )
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413, "RequestEntityTooLarge", message)
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after_seconds: u32) -> Self {
        let mut error = Self::new(429, "TooManyRequests", message);
        error.retry_after_seconds = Some(retry_after_seconds);
        error
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// Fills `details.name` and `details.kind`/`group` from a qualified resource (`deployments.apps`).
    pub fn with_details(mut self, qualified_resource: &str, name: &str) -> Self {
        let (kind, group) = match qualified_resource.split_once('.') {
            Some((resource, group)) => (resource, group),
            None => (qualified_resource, ""),
        };
        self.kind = Some(kind.to_string());
        self.group = Some(group.to_string());
        self.name = Some(name.to_string());
        self
    }

    pub fn with_cause(mut self, cause: StatusCause) -> Self {
        self.causes.push(cause);
        self
    }

    /// The `metav1.Status` body sent to clients.
    pub fn to_status(&self) -> Value {
        let mut details = serde_json::Map::new();
        if let Some(name) = &self.name {
            details.insert("name".into(), json!(name));
        }
        if let Some(group) = self.group.as_ref().filter(|g| !g.is_empty()) {
            details.insert("group".into(), json!(group));
        }
        if let Some(kind) = &self.kind {
            details.insert("kind".into(), json!(kind));
        }
        if !self.causes.is_empty() {
            let causes = self
                .causes
                .iter()
                .map(|c| {
                    let mut cause = serde_json::Map::new();
                    cause.insert("reason".into(), json!(c.reason));
                    cause.insert("message".into(), json!(c.message));
                    if !c.field.is_empty() {
                        cause.insert("field".into(), json!(c.field));
                    }
                    Value::Object(cause)
                })
                .collect::<Vec<_>>();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(seconds) = self.retry_after_seconds {
            details.insert("retryAfterSeconds".into(), json!(seconds));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// A `Status` reporting success, as returned by deletecollection and some deletes.
pub fn success_status(details: Option<Value>) -> Value {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
    });
    if let Some(details) = details {
        status["details"] = details;
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_the_resource_and_object() {
        let status = ApiError::not_found("deployments.apps", "web").to_status();
        assert_eq!(status["code"], 404);
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["message"], "deployments.apps \"web\" not found");
        assert_eq!(status["details"]["group"], "apps");
        assert_eq!(status["details"]["kind"], "deployments");
    }

    #[test]
    fn invalid_lists_every_cause_in_the_message() {
        let error = ApiError::invalid(
            "",
            "Pod",
            "p",
            vec![
                StatusCause::new("FieldValueRequired", "spec.containers", "Required value"),
                StatusCause::new("FieldValueInvalid", "metadata.name", "Invalid value: \"A\""),
            ],
        );
        let status = error.to_status();
        assert_eq!(status["code"], 422);
        assert_eq!(
            status["message"],
            "Pod \"p\" is invalid: [spec.containers: Required value, metadata.name: Invalid value: \"A\"]"
        );
        assert_eq!(status["details"]["causes"][1]["field"], "metadata.name");
    }
}
