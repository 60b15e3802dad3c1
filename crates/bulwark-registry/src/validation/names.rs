//! Name formats with apimachinery's exact messages. The general ones (RFC 1123 and RFC 1035 names,
//! qualified names, label values) live in [`bulwark_core::names`], shared with label selectors;
//! this module adds the ones only object validation needs (port names, config keys, percents)
//! and `Result`-shaped wrappers.

pub use bulwark_core::names::{
    dns1035_label_errors, dns1123_label_errors, dns1123_subdomain_errors, label_value_errors,
    max_len_error, qualified_name_errors, regex_error,
};

use bulwark_core::names::is_lower_alphanumeric;

/// Upstream bounds ConfigMap keys by `DNS1123SubdomainMaxLength`.
const CONFIG_MAP_KEY_MAX_LENGTH: usize = 253;

/// Every message `IsValidPortName` gives for `port` (IANA service names).
pub fn port_name_errors(port: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if port.len() > 15 {
        errors.push(max_len_error(15));
    }
    if port.is_empty() || !port.bytes().all(|b| is_lower_alphanumeric(b) || b == b'-') {
        errors.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !port.bytes().any(|b| b.is_ascii_lowercase()) {
        errors.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errors.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errors.push("must not begin or end with a hyphen".to_string());
    }
    errors
}

/// Every message `IsConfigMapKey` gives for `key` (ConfigMap and Secret data keys).
pub fn config_map_key_errors(key: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if key.len() > CONFIG_MAP_KEY_MAX_LENGTH {
        errors.push(max_len_error(CONFIG_MAP_KEY_MAX_LENGTH));
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        errors.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if key == "." {
        errors.push("must not be '.'".to_string());
    } else if key == ".." {
        errors.push("must not be '..'".to_string());
    } else if key.starts_with("..") {
        errors.push("must not start with '..'".to_string());
    }
    errors
}

/// The message for a percent string that is not `[0-9]+%`, if it is not one.
pub fn percent_errors(value: &str) -> Vec<String> {
    let digits = value.strip_suffix('%').unwrap_or_default();
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    vec![regex_error(
        "a valid percent string must be a numeric string followed by an ending '%'",
        "[0-9]+%",
        &["1%", "93%"],
    )]
}

fn joined(errors: Vec<String>) -> Result<(), String> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join(", "))
    }
}

/// Whether `value` is a DNS-1123 subdomain (most object names); the error joins upstream's messages.
pub fn is_dns1123_subdomain(value: &str) -> Result<(), String> {
    joined(dns1123_subdomain_errors(value))
}

/// Whether `value` is a DNS-1123 label (namespace names, container names).
pub fn is_dns1123_label(value: &str) -> Result<(), String> {
    joined(dns1123_label_errors(value))
}

/// Whether `value` is a DNS-1035 label (service names).
pub fn is_dns1035_label(value: &str) -> Result<(), String> {
    joined(dns1035_label_errors(value))
}

/// Whether `value` is a valid label value.
pub fn validate_label_value(value: &str) -> Result<(), String> {
    joined(label_value_errors(value))
}

/// Whether `name` is a qualified name (`prefix/name` or `name`): label and annotation keys,
/// finalizers.
pub fn validate_qualified_name(name: &str) -> Result<(), String> {
    joined(qualified_name_errors(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_message_is_upstreams() {
        let error = is_dns1123_subdomain("Bad_Name").unwrap_err();
        assert_eq!(
            error,
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
        assert!(is_dns1123_subdomain("payment-service.v2").is_ok());
        assert!(is_dns1123_subdomain("a..b").is_err());
        assert!(is_dns1123_subdomain("").is_err());
        assert!(
            is_dns1123_subdomain(&"a".repeat(254))
                .unwrap_err()
                .starts_with("must be no more than 253 characters")
        );
    }

    #[test]
    fn label_checks_length_dots_and_characters() {
        assert!(is_dns1123_label("payments").is_ok());
        assert_eq!(
            is_dns1123_label("a.b").unwrap_err(),
            "must not contain dots"
        );
        assert!(
            is_dns1123_label("-a")
                .unwrap_err()
                .contains("(e.g. 'my-name',  or '123-abc', regex")
        );
        assert!(is_dns1123_label(&"a".repeat(64)).is_err());
        assert!(is_dns1035_label("1abc").is_err());
        assert!(is_dns1035_label("abc-1").is_ok());
    }

    #[test]
    fn qualified_names_accept_prefixes() {
        assert!(validate_qualified_name("app").is_ok());
        assert!(validate_qualified_name("app.kubernetes.io/name").is_ok());
        assert!(validate_qualified_name("My_Key.1").is_ok());
        assert_eq!(
            validate_qualified_name("/name").unwrap_err(),
            "prefix part must be non-empty"
        );
        assert!(
            validate_qualified_name("a/b/c")
                .unwrap_err()
                .starts_with("a qualified name must consist of")
        );
        assert!(
            validate_qualified_name("Bad.Prefix/x")
                .unwrap_err()
                .starts_with("prefix part a lowercase RFC 1123 subdomain")
        );
        assert!(
            validate_qualified_name("x/")
                .unwrap_err()
                .starts_with("name part must be non-empty")
        );
    }

    #[test]
    fn label_values_may_be_empty() {
        assert!(validate_label_value("").is_ok());
        assert!(validate_label_value("v1.2_beta-3").is_ok());
        assert!(validate_label_value("-x").is_err());
        assert!(
            validate_label_value(&"x".repeat(64))
                .unwrap_err()
                .starts_with("must be no more than 63 characters")
        );
    }

    #[test]
    fn port_names_follow_iana_rules() {
        assert!(port_name_errors("http").is_empty());
        assert!(port_name_errors("http-metrics").is_empty());
        assert_eq!(
            port_name_errors("8080"),
            vec!["must contain at least one letter (a-z)".to_string()]
        );
        assert!(
            port_name_errors("a--b").contains(&"must not contain consecutive hyphens".to_string())
        );
        assert!(!port_name_errors("averyveryverylongname").is_empty());
    }

    #[test]
    fn config_keys_and_percents() {
        assert!(config_map_key_errors("app.properties").is_empty());
        assert_eq!(
            config_map_key_errors("..x"),
            vec!["must not start with '..'".to_string()]
        );
        assert!(!config_map_key_errors("a/b").is_empty());
        assert!(percent_errors("25%").is_empty());
        assert!(!percent_errors("25").is_empty());
        assert!(!percent_errors("%").is_empty());
    }
}
