//! Reading `/proc/<pid>/stat` to tell whether a pid is still the process we started: pids are
//! reused, but (pid, start time) is unique for the life of the machine.

/// The fields of `/proc/<pid>/stat` the runtime uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// `R`, `S`, `D`, `Z` (zombie: exited, not yet reaped), …
    pub state: char,
    pub process_group: i32,
    /// Clock ticks after boot at which the process started.
    pub start_ticks: u64,
}

impl ProcStat {
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Parses a `stat` line. The command name (field 2) may hold spaces and parentheses, so fields
/// are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3 of the line, pgrp 5, starttime 22.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        process_group: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// The stat of a live process, `None` when there is no such pid.
pub fn read_stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether `pid` is still the (unexited) process that started at `start_ticks`.
pub fn is_same_live_process(pid: u32, start_ticks: u64) -> bool {
    read_stat(pid).is_some_and(|stat| stat.start_ticks == start_ticks && !stat.is_zombie())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_with_spaces_and_parentheses_do_not_shift_fields() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let stat = parse_stat(line).expect("parses");
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.process_group, 4242);
        assert_eq!(stat.start_ticks, 987_654);
        assert!(!stat.is_zombie());
    }

    #[test]
    fn our_own_process_is_itself() {
        let stat = read_stat(std::process::id()).expect("own stat");
        assert!(is_same_live_process(std::process::id(), stat.start_ticks));
        assert!(!is_same_live_process(
            std::process::id(),
            stat.start_ticks + 1
        ));
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in ".{0,200}") {
            let _ = parse_stat(&text);
        }
    }
}
