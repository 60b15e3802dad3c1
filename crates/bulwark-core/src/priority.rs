//! PriorityClass resolution as the Priority admission plugin does it: `priorityClassName` →
//! value and preemption policy, the lowest `globalDefault` class for pods that name none, and
//! the two built-in system classes. The API server resolves at admission; the scheduler resolves
//! again for pods admitted before their class existed.

use std::collections::BTreeMap;

pub const SYSTEM_CLUSTER_CRITICAL: &str = "system-cluster-critical";
pub const SYSTEM_NODE_CRITICAL: &str = "system-node-critical";
pub const SYSTEM_CLUSTER_CRITICAL_VALUE: i32 = 2_000_000_000;
pub const SYSTEM_NODE_CRITICAL_VALUE: i32 = 2_000_001_000;
pub const PREEMPT_LOWER_PRIORITY: &str = "PreemptLowerPriority";
pub const NEVER: &str = "Never";

/// What admission writes into the pod: `spec.priorityClassName`, `spec.priority`,
/// `spec.preemptionPolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPriority {
    pub class_name: Option<String>,
    pub value: i32,
    pub preemption_policy: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriorityError {
    /// Upstream answers 403 Forbidden with this message.
    #[error("no PriorityClass with name {0} was found")]
    NotFound(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Class {
    value: i32,
    global_default: bool,
    preemption_policy: String,
}

#[derive(Debug, Clone, Default)]
pub struct PriorityClasses {
    classes: BTreeMap<String, Class>,
}

impl PriorityClasses {
    /// Adds or replaces class `name` (`preemptionPolicy` defaults to `PreemptLowerPriority`).
    pub fn upsert(
        &mut self,
        name: &str,
        value: i32,
        global_default: bool,
        preemption_policy: Option<&str>,
    ) {
        self.classes.insert(
            name.to_string(),
            Class {
                value,
                global_default,
                preemption_policy: preemption_policy
                    .unwrap_or(PREEMPT_LOWER_PRIORITY)
                    .to_string(),
            },
        );
    }

    pub fn remove(&mut self, name: &str) {
        self.classes.remove(name);
    }

    pub fn resolve(&self, class_name: Option<&str>) -> Result<ResolvedPriority, PriorityError> {
        match class_name.filter(|n| !n.is_empty()) {
            None => Ok(self.default_priority()),
            Some(name) => {
                let class = self
                    .classes
                    .get(name)
                    .cloned()
                    .or_else(|| builtin(name))
                    .ok_or_else(|| PriorityError::NotFound(name.to_string()))?;
                Ok(ResolvedPriority {
                    class_name: Some(name.to_string()),
                    value: class.value,
                    preemption_policy: class.preemption_policy,
                })
            }
        }
    }

    /// The `globalDefault` class with the lowest value, or priority 0 when there is none.
    fn default_priority(&self) -> ResolvedPriority {
        let default = self
            .classes
            .iter()
            .filter(|(_, c)| c.global_default)
            .min_by_key(|(_, c)| c.value);
        match default {
            Some((name, class)) => ResolvedPriority {
                class_name: Some(name.clone()),
                value: class.value,
                preemption_policy: class.preemption_policy.clone(),
            },
            None => ResolvedPriority {
                class_name: None,
                value: 0,
                preemption_policy: PREEMPT_LOWER_PRIORITY.into(),
            },
        }
    }
}

fn builtin(name: &str) -> Option<Class> {
    let value = match name {
        SYSTEM_CLUSTER_CRITICAL => SYSTEM_CLUSTER_CRITICAL_VALUE,
        SYSTEM_NODE_CRITICAL => SYSTEM_NODE_CRITICAL_VALUE,
        _ => return None,
    };
    Some(Class {
        value,
        global_default: false,
        preemption_policy: PREEMPT_LOWER_PRIORITY.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(entries: &[(&str, i32, bool, Option<&str>)]) -> PriorityClasses {
        let mut classes = PriorityClasses::default();
        for (name, value, global_default, policy) in entries {
            classes.upsert(name, *value, *global_default, *policy);
        }
        classes
    }

    #[test]
    fn named_class_resolves_with_its_policy() {
        let classes = classes(&[("critical-service", 1_000_000, false, Some(NEVER))]);
        let resolved = classes.resolve(Some("critical-service")).expect("exists");
        assert_eq!(resolved.value, 1_000_000);
        assert_eq!(resolved.preemption_policy, NEVER);
    }

    #[test]
    fn unknown_class_is_an_error_with_upstreams_message() {
        let error = PriorityClasses::default()
            .resolve(Some("gold"))
            .expect_err("unknown");
        assert_eq!(
            error.to_string(),
            "no PriorityClass with name gold was found"
        );
    }

    #[test]
    fn builtins_exist_without_objects() {
        let classes = PriorityClasses::default();
        assert_eq!(
            classes.resolve(Some(SYSTEM_NODE_CRITICAL)).map(|r| r.value),
            Ok(2_000_001_000)
        );
        assert_eq!(
            classes
                .resolve(Some(SYSTEM_CLUSTER_CRITICAL))
                .map(|r| r.value),
            Ok(2_000_000_000)
        );
    }

    #[test]
    fn global_default_applies_to_pods_without_a_class() {
        let none = PriorityClasses::default().resolve(None).expect("default");
        assert_eq!((none.class_name, none.value), (None, 0));
        let classes = classes(&[
            ("high", 1000, true, None),
            ("low", 10, true, None),
            ("other", 5, false, None),
        ]);
        let resolved = classes.resolve(Some("")).expect("default");
        assert_eq!(
            (resolved.class_name.as_deref(), resolved.value),
            (Some("low"), 10)
        );
        assert_eq!(resolved.preemption_policy, PREEMPT_LOWER_PRIORITY);
    }
}
