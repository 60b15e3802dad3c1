//! Name formats (RFC 1123 labels and subdomains, RFC 1035 labels, qualified names, label values,
//! port names, config keys) with apimachinery's exact messages. Hand-written matchers stand in
//! for upstream's regular expressions; each function documents the expression it implements.

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const QUALIFIED_NAME_MAX: usize = 63;
const LABEL_VALUE_MAX: usize = 63;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const QUALIFIED_NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `must be no more than N characters`.
pub fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// apimachinery's `RegexError`: the message, examples, then the expression.
pub fn regex_error(message: &str, format: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{message} (regex used for validation is '{format}')");
    }
    let mut text = format!("{message} (e.g. ");
    for (index, example) in examples.iter().enumerate() {
        if index > 0 {
            text.push_str(" or ");
        }
        text.push_str(&format!("'{example}', "));
    }
    text.push_str(&format!("regex used for validation is '{format}')"));
    text
}

fn is_lower_alphanumeric(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit()
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
fn matches_dns1123_label(value: &str) -> bool {
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            is_lower_alphanumeric(first)
                && is_lower_alphanumeric(last)
                && bytes.iter().all(|&b| is_lower_alphanumeric(b) || b == b'-')
        }
        _ => false,
    }
}

fn matches_dns1123_subdomain(value: &str) -> bool {
    value.split('.').all(matches_dns1123_label)
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn matches_qualified_name_part(value: &str) -> bool {
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Every message `IsDNS1123Label` gives for `value`.
pub fn dns1123_label_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        errors.push(max_len_error(DNS1123_LABEL_MAX));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            errors.push("must not contain dots".to_string());
        } else {
            errors.push(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errors
}

/// Every message `IsDNS1123Subdomain` gives for `value`.
pub fn dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errors.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
    }
    if !matches_dns1123_subdomain(value) {
        errors.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errors
}

/// Every message `IsDNS1035Label` gives for `value` (service names).
pub fn dns1035_label_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        errors.push(max_len_error(DNS1123_LABEL_MAX));
    }
    let starts_alpha = value.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
    if !(starts_alpha && matches_dns1123_label(value)) {
        errors.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errors
}

/// Every message `IsQualifiedName` gives for `value` (label keys, annotation keys, finalizers).
pub fn qualified_name_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts = value.split('/').collect::<Vec<_>>();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                errors.extend(
                    dns1123_subdomain_errors(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errors.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errors;
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > QUALIFIED_NAME_MAX {
        errors.push(format!("name part {}", max_len_error(QUALIFIED_NAME_MAX)));
    }
    if !matches_qualified_name_part(name) {
        errors.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errors
}

/// Every message `IsValidLabelValue` gives for `value`.
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        errors.push(max_len_error(LABEL_VALUE_MAX));
    }
    if !(value.is_empty() || matches_qualified_name_part(value)) {
        errors.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errors
}

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
    if key.len() > DNS1123_SUBDOMAIN_MAX {
        errors.push(max_len_error(DNS1123_SUBDOMAIN_MAX));
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

/// Whether `key` is a valid label key (a qualified name).
pub fn validate_label_key(key: &str) -> Result<(), String> {
    joined(qualified_name_errors(key))
}

/// Whether `value` is a valid label value.
pub fn validate_label_value(value: &str) -> Result<(), String> {
    joined(label_value_errors(value))
}

/// Whether `name` is a qualified name (`prefix/name` or `name`).
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
