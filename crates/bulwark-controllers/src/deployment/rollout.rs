//! Rolling-update arithmetic, pure: how far to scale the new ReplicaSet up and the old ones down
//! so the rollout never runs more than `replicas + maxSurge` pods and never fewer than
//! `replicas - maxUnavailable` available ones (upstream `rolling.go` and `deploymentutil`).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::Error;

/// `GetScaledValueFromIntOrPercent`: an integer as is, `"N%"` of `total` rounded up or down.
pub fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> Result<i32, Error> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(text) => {
            let percent: i64 = text
                .strip_suffix('%')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| Error::Invalid(format!("invalid value for IntOrString: invalid value {text:?}: must be an integer or a percentage")))?;
            let scaled = percent * i64::from(total);
            let value = if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            };
            Ok(i32::try_from(value).unwrap_or(i32::MAX))
        }
    }
}

/// `ResolveFenceposts`: surge rounds up, unavailability down; both zero would deadlock, so
/// unavailability becomes one.
pub fn fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    replicas: i32,
) -> Result<(i32, i32), Error> {
    let default = IntOrString::String("25%".into());
    let surge = scaled_value(max_surge.unwrap_or(&default), replicas, true)?;
    let unavailable = scaled_value(max_unavailable.unwrap_or(&default), replicas, false)?;
    Ok(if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    })
}

/// One ReplicaSet as the rollout sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetView {
    pub name: String,
    /// `spec.replicas`.
    pub replicas: i32,
    /// `status.availableReplicas`.
    pub available: i32,
}

/// `NewRSNewReplicas` for RollingUpdate: grow the new set as far as the surge allows.
pub fn new_set_replicas(desired: i32, surge: i32, new: &SetView, olds: &[SetView]) -> i32 {
    let current: i32 = new.replicas + olds.iter().map(|s| s.replicas).sum::<i32>();
    let max_total = desired + surge;
    if current >= max_total {
        return new.replicas;
    }
    let scale_up = (max_total - current).min(desired - new.replicas).max(0);
    new.replicas + scale_up
}

/// `reconcileOldReplicaSets`: the old sets' new sizes, unhealthy pods first, then the oldest sets,
/// never taking availability below `desired - unavailable`. `olds` is sorted oldest first.
pub fn old_set_replicas(
    desired: i32,
    unavailable: i32,
    new: &SetView,
    olds: &[SetView],
) -> Vec<(String, i32)> {
    let all: i32 = new.replicas + olds.iter().map(|s| s.replicas).sum::<i32>();
    let min_available = desired - unavailable;
    let new_unavailable = (new.replicas - new.available).max(0);
    let mut budget = all - min_available - new_unavailable;
    let mut sizes: Vec<(String, i32)> = olds.iter().map(|s| (s.name.clone(), s.replicas)).collect();
    if budget <= 0 {
        return sizes;
    }
    // Unhealthy pods cost no availability: remove them first.
    for (size, set) in sizes.iter_mut().zip(olds) {
        let unhealthy = (set.replicas - set.available).max(0).min(budget);
        size.1 -= unhealthy;
        budget -= unhealthy;
    }
    // Then healthy ones, oldest sets first, as far as availability allows.
    let available: i32 = new.available.min(new.replicas)
        + olds
            .iter()
            .map(|s| s.available.min(s.replicas))
            .sum::<i32>();
    let mut scale_down = available - min_available;
    for size in sizes.iter_mut() {
        if scale_down <= 0 {
            break;
        }
        let step = size.1.min(scale_down);
        size.1 -= step;
        scale_down -= step;
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(name: &str, replicas: i32, available: i32) -> SetView {
        SetView {
            name: name.into(),
            replicas,
            available,
        }
    }

    #[test]
    fn percentages_round_as_upstream() {
        let quarter = IntOrString::String("25%".into());
        assert_eq!(scaled_value(&quarter, 10, true).unwrap(), 3);
        assert_eq!(scaled_value(&quarter, 10, false).unwrap(), 2);
        assert_eq!(scaled_value(&IntOrString::Int(4), 10, false).unwrap(), 4);
        assert!(scaled_value(&IntOrString::String("lots".into()), 10, true).is_err());
        assert_eq!(fenceposts(None, None, 3).unwrap(), (1, 0));
        assert_eq!(
            fenceposts(Some(&IntOrString::Int(0)), Some(&IntOrString::Int(0)), 3).unwrap(),
            (0, 1)
        );
    }

    #[test]
    fn max_unavailable_zero_surges_before_scaling_down() {
        let olds = [set("old", 3, 3)];
        let new = set("new", 0, 0);
        assert_eq!(new_set_replicas(3, 1, &new, &olds), 1);
        // The new pod is not available yet: nothing old may go.
        assert_eq!(
            old_set_replicas(3, 0, &set("new", 1, 0), &olds),
            vec![("old".to_string(), 3)]
        );
        assert_eq!(
            old_set_replicas(3, 0, &set("new", 1, 1), &olds),
            vec![("old".to_string(), 2)]
        );
    }

    #[test]
    fn unhealthy_old_pods_go_first_and_oldest_sets_before_newer() {
        let olds = [set("oldest", 2, 0), set("older", 2, 2)];
        // Four pods, three must stay available: one unhealthy pod may go, from the oldest set.
        let sizes = old_set_replicas(4, 1, &set("new", 0, 0), &olds);
        assert_eq!(
            sizes,
            vec![("oldest".to_string(), 1), ("older".to_string(), 2)]
        );
        // With room for two, both unhealthy pods go before any healthy one.
        let sizes = old_set_replicas(4, 2, &set("new", 0, 0), &olds);
        assert_eq!(
            sizes,
            vec![("oldest".to_string(), 0), ("older".to_string(), 2)]
        );
    }

    /// A world for the property test: each step the controller acts, then some pods become
    /// available (never more than exist); scaled-down sets lose unavailable pods first.
    fn step(
        desired: i32,
        surge: i32,
        unavailable: i32,
        new: &mut SetView,
        olds: &mut [SetView],
        ready: i32,
    ) {
        new.replicas = new_set_replicas(desired, surge, new, olds);
        let sizes = old_set_replicas(desired, unavailable, new, olds);
        for (old, (_, size)) in olds.iter_mut().zip(sizes) {
            old.replicas = size;
            old.available = old.available.min(size);
        }
        new.available = (new.available + ready).min(new.replicas);
    }

    proptest! {
        #[test]
        fn rollouts_respect_surge_and_availability_and_finish(
            desired in 1i32..20,
            surge_percent in 0i32..100,
            unavailable_percent in 0i32..100,
            readiness in proptest::collection::vec(0i32..4, 200),
        ) {
            let (surge, unavailable) = fenceposts(
                Some(&IntOrString::String(format!("{surge_percent}%"))),
                Some(&IntOrString::String(format!("{unavailable_percent}%"))),
                desired,
            ).unwrap();
            let mut new = set("new", 0, 0);
            let mut olds = vec![set("old", desired, desired)];
            for ready in readiness {
                step(desired, surge, unavailable, &mut new, &mut olds, ready.max(1));
                let total: i32 = new.replicas + olds.iter().map(|s| s.replicas).sum::<i32>();
                let available: i32 = new.available + olds.iter().map(|s| s.available).sum::<i32>();
                prop_assert!(total <= desired + surge, "{total} pods > {desired} + {surge}");
                prop_assert!(available >= desired - unavailable, "{available} available < {desired} - {unavailable}");
            }
            prop_assert_eq!(new.replicas, desired);
            prop_assert!(olds.iter().all(|s| s.replicas == 0));
        }
    }
}
