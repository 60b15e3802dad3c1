//! Apply conflicts and the errors server-side apply returns.

use std::fmt;

use super::managed::{ManagedFieldsError, ManagerId};
use super::path::Path;
use super::typed::TypeError;

/// Another manager owns a field whose value the applied configuration changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The manager that owns the field.
    pub manager: ManagerId,
    /// The field.
    pub path: Path,
}

impl Conflict {
    /// The cause message: `conflict with "kubectl-scale" using apps/v1`.
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager.describe())
    }
}

/// All conflicts of one apply, sorted by manager identifier and then by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyConflict {
    /// The conflicts; never empty.
    pub conflicts: Vec<Conflict>,
}

/// One `metav1.StatusCause` of a 409 apply conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictCause {
    /// `FieldManagerConflict`.
    pub reason: &'static str,
    /// `conflict with "kubectl-scale" using apps/v1`.
    pub message: String,
    /// `.spec.replicas`.
    pub field: String,
}

impl ApplyConflict {
    /// The `StatusCause` type upstream uses for each conflicting field.
    pub const CAUSE_TYPE: &'static str = "FieldManagerConflict";

    /// One cause per conflicting field, for the 409 Conflict status's `details.causes`.
    pub fn causes(&self) -> Vec<ConflictCause> {
        self.conflicts
            .iter()
            .map(|conflict| ConflictCause {
                reason: Self::CAUSE_TYPE,
                message: conflict.cause_message(),
                field: conflict.path.to_string(),
            })
            .collect()
    }
}

/// Upstream's message: `Apply failed with 1 conflict: conflict with "m": .spec.replicas`, or
/// for several, the conflicts grouped under `conflicts with "m":` lines.
impl fmt::Display for ApplyConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [only] = self.conflicts.as_slice() {
            return write!(
                f,
                "Apply failed with 1 conflict: {}: {}",
                only.cause_message(),
                only.path
            );
        }
        let mut lines = Vec::new();
        let mut previous: Option<&ManagerId> = None;
        for conflict in &self.conflicts {
            if previous != Some(&conflict.manager) {
                lines.push(format!("conflicts with {}:", conflict.manager.describe()));
                previous = Some(&conflict.manager);
            }
            lines.push(format!("- {}", conflict.path));
        }
        write!(
            f,
            "Apply failed with {} conflicts: {}",
            self.conflicts.len(),
            lines.join("\n")
        )
    }
}

impl std::error::Error for ApplyConflict {}

/// Why an apply (or managedFields bookkeeping) failed, and the HTTP status it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Other managers own fields the configuration changes: 409 Conflict, reason `Conflict`,
    /// one `FieldManagerConflict` cause per field ([`ApplyConflict::causes`]). Retry with
    /// `force=true` to take them over.
    #[error(transparent)]
    Conflict(#[from] ApplyConflict),
    /// The request is malformed (an apply configuration that sets managedFields, of another
    /// apiVersion, or not an object): 400 BadRequest.
    #[error("{0}")]
    BadRequest(String),
    /// The configuration or the live object does not fit the schema (for example a list item
    /// without its merge keys or duplicate keys): 422 Invalid / 400 in the API server.
    #[error("failed to create typed patch object: {0}")]
    Invalid(#[from] TypeError),
    /// The live object's managedFields do not decode: 500, it should never be stored.
    #[error("failed to decode managed fields: {0}")]
    ManagedFields(#[from] ManagedFieldsError),
}

impl ApplyError {
    /// The HTTP status the API server answers with. Type errors are 422 rather than upstream's
    /// 500: they are the client's to fix.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Conflict(_) => 409,
            Self::BadRequest(_) => 400,
            Self::Invalid(_) => 422,
            Self::ManagedFields(_) => 500,
        }
    }

    /// The `metav1.Status` reason that goes with [`ApplyError::http_status`].
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Conflict(_) => "Conflict",
            Self::BadRequest(_) => "BadRequest",
            Self::Invalid(_) => "Invalid",
            Self::ManagedFields(_) => "InternalError",
        }
    }
}
