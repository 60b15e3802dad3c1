//! Content negotiation: which representation the client asked for in `Accept`, and which body
//! format it sent in `Content-Type`.

use bulwark_core::ApiError;

/// How objects are rendered in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// The objects themselves.
    Object,
    /// `meta.k8s.io/v1 Table`, as kubectl asks for human-readable output.
    Table,
    /// `meta.k8s.io/v1 PartialObjectMetadata(List)`: metadata only.
    Metadata,
}

/// Reads `Accept`. The first media type we can produce wins, as in upstream's negotiation;
/// protobuf is never produced, so clients that also accept JSON get JSON.
pub fn representation(accept: Option<&str>) -> Result<Representation, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Representation::Object);
    };
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
        let params: Vec<(String, String)> = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if !matches!(
            essence.as_str(),
            "application/json" | "application/*" | "*/*" | "application/yaml"
        ) {
            continue;
        }
        match (param("as"), param("g")) {
            (None, _) => return Ok(Representation::Object),
            (Some("Table"), Some("meta.k8s.io")) => return Ok(Representation::Table),
            (Some("PartialObjectMetadata" | "PartialObjectMetadataList"), Some("meta.k8s.io")) => {
                return Ok(Representation::Metadata);
            }
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable(format!(
        "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io (got {accept:?})"
    )))
}

/// What a request body is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Yaml,
    JsonPatch,
    MergePatch,
    StrategicMergePatch,
    ApplyPatch,
    /// `application/vnd.kubernetes.protobuf`: decoded to JSON for the kinds that
    /// `bulwark_registry::protobuf` knows (create and replace only).
    Protobuf,
}

pub fn body_format(content_type: Option<&str>) -> Result<BodyFormat, ApiError> {
    let raw = content_type.unwrap_or("application/json");
    let essence = raw
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "" => Ok(BodyFormat::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" => Ok(BodyFormat::Yaml),
        "application/json-patch+json" => Ok(BodyFormat::JsonPatch),
        "application/merge-patch+json" => Ok(BodyFormat::MergePatch),
        "application/strategic-merge-patch+json" => Ok(BodyFormat::StrategicMergePatch),
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
            Ok(BodyFormat::ApplyPatch)
        }
        // kubectl's `create <kind>` subcommands write protobuf.
        "application/vnd.kubernetes.protobuf" => Ok(BodyFormat::Protobuf),
        _ => Err(ApiError::unsupported_media_type(raw)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_table_accept_header() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(representation(Some(accept)).unwrap(), Representation::Table);
    }

    #[test]
    fn protobuf_first_falls_back_to_json() {
        let accept = "application/vnd.kubernetes.protobuf,application/json";
        assert_eq!(
            representation(Some(accept)).unwrap(),
            Representation::Object
        );
        assert_eq!(representation(None).unwrap(), Representation::Object);
        assert_eq!(representation(Some("*/*")).unwrap(), Representation::Object);
    }

    #[test]
    fn unsatisfiable_accept_is_406() {
        assert_eq!(
            representation(Some("application/vnd.kubernetes.protobuf"))
                .unwrap_err()
                .code,
            406
        );
        assert_eq!(
            representation(Some("application/json;as=Widget;g=x"))
                .unwrap_err()
                .code,
            406
        );
    }

    #[test]
    fn patch_content_types() {
        assert_eq!(
            body_format(Some("application/strategic-merge-patch+json")).unwrap(),
            BodyFormat::StrategicMergePatch
        );
        assert_eq!(
            body_format(Some("application/apply-patch+yaml; charset=utf-8")).unwrap(),
            BodyFormat::ApplyPatch
        );
        assert_eq!(body_format(Some("text/html")).unwrap_err().code, 415);
        assert_eq!(
            body_format(Some("application/vnd.kubernetes.protobuf")).unwrap(),
            BodyFormat::Protobuf
        );
    }
}
