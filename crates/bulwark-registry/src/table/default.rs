//! Upstream's default table for kinds without a printer (LimitRanges among them): `NAME` and
//! `CREATED AT`, the creation time in RFC 3339.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::columns::{CellType, Column, NAME, field_of};
use super::fields::{name, time};

pub(super) const COLUMNS: &[Column] = &[
    NAME,
    Column::new(
        "Created At",
        CellType::Date,
        field_of::<ObjectMeta>("creationTimestamp"),
    ),
];

/// Go formats the zero time too, so an object without a creation time shows year one.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub(super) fn cells(object: &Value, _now: Timestamp) -> Vec<Value> {
    let created = time(object, &["metadata", "creationTimestamp"]).map_or_else(
        || GO_ZERO_TIME.to_string(),
        |at| at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    vec![json!(name(object)), json!(created)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_prints_creation_time_in_rfc3339() {
        let now: Timestamp = "2025-06-01T12:00:00Z".parse().expect("valid timestamp");
        let limits = json!({"metadata": {"name": "limits", "creationTimestamp": "2025-06-01T11:00:00.5+02:00"}});
        assert_eq!(
            cells(&limits, now),
            vec![json!("limits"), json!("2025-06-01T09:00:00Z")]
        );
        assert_eq!(cells(&json!({}), now), vec![json!(""), json!(GO_ZERO_TIME)]);
    }
}
