//! Label and field selectors: parsing (the `kubectl -l` / `--field-selector` syntax) and matching.
//!
//! Both parsers follow apimachinery's behaviour to the letter, error messages included, because
//! clients and people compare what they see with what a real API server says:
//!
//! - [`LabelSelector::parse`] is `labels.Parse`; [`LabelSelector::from_json`] is
//!   `metav1.LabelSelectorAsSelector` over the structured `metav1.LabelSelector`, and
//!   [`validate_label_selector`] is the object validation (`ValidateLabelSelector`) that turns a bad
//!   selector in a spec into 422 causes.
//! - [`FieldSelector::parse`] is `fields.ParseSelector`; [`field_labels`] holds which fields each
//!   kind lets a list select on and how each field reads from an object.

mod field;
pub mod field_labels;
mod go;
mod label;
mod structured;

pub use field::{FieldOperator, FieldSelector, FieldTerm, escape_field_value};
pub use label::{LabelSelector, Labels, Operator, Requirement};
pub use structured::{LabelSelectorOptions, validate_label_selector};

use crate::ApiError;

/// A selector the API server cannot use. The message is upstream's, word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The label selector string does not follow the grammar or names an invalid key or value.
    #[error("{0}")]
    Label(String),
    /// A structured `metav1.LabelSelector` that cannot become a selector.
    #[error("{0}")]
    StructuredLabel(String),
    /// The field selector string does not follow the grammar or its escaping.
    #[error("{0}")]
    Field(String),
    /// A field the resource does not let clients select on.
    #[error("{0}")]
    FieldLabelNotSupported(String),
}

impl SelectorError {
    pub fn message(&self) -> &str {
        match self {
            Self::Label(message)
            | Self::StructuredLabel(message)
            | Self::Field(message)
            | Self::FieldLabelNotSupported(message) => message,
        }
    }
}

/// Every selector error a client can cause is a 400 BadRequest carrying upstream's message.
impl From<SelectorError> for ApiError {
    fn from(error: SelectorError) -> Self {
        ApiError::bad_request(error.message().to_string())
    }
}
