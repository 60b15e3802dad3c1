//! One CRI log record: `<RFC 3339 time, 9 decimals> <stdout|stderr> <F|P> <content>\n`.

use jiff::Timestamp;

/// Content longer than this is split into `P` records (containerd's default).
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Which output a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn parse(text: &[u8]) -> Option<Self> {
        match text {
            b"stdout" => Some(Stream::Stdout),
            b"stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }
}

/// A record read back from a log file; `content` excludes the newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord<'a> {
    pub time: Timestamp,
    pub stream: Stream,
    /// `P`: the line continues in the next record of this stream.
    pub partial: bool,
    pub content: &'a [u8],
}

/// The time as containerd writes it: UTC, always nine decimals, so records sort as text.
pub fn format_time(time: Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%S.%9fZ").to_string()
}

/// Appends one record to `out`. A newline inside `content` would break the framing, so the
/// writer never passes one ([`crate::logs::ContainerLog`] splits on them first).
pub fn encode(out: &mut Vec<u8>, time: Timestamp, stream: Stream, partial: bool, content: &[u8]) {
    debug_assert!(!content.contains(&b'\n'), "a record holds no newline");
    out.extend_from_slice(format_time(time).as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream.name().as_bytes());
    out.extend_from_slice(if partial { b" P " } else { b" F " });
    out.extend_from_slice(content);
    out.push(b'\n');
}

/// Parses one record (with or without its trailing newline); `None` for anything malformed,
/// which readers skip rather than fail on, since a crash can leave a torn last line.
pub fn decode(line: &[u8]) -> Option<LogRecord<'_>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let mut parts = line.splitn(4, |byte| *byte == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let stream = Stream::parse(parts.next()?)?;
    let partial = match parts.next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    let content = parts.next().unwrap_or_default();
    Some(LogRecord {
        time,
        stream,
        partial,
        content,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("test timestamp")
    }

    #[test]
    fn records_use_nine_decimals_and_round_trip() {
        let mut out = Vec::new();
        encode(
            &mut out,
            at("2026-01-01T00:00:00Z"),
            Stream::Stdout,
            false,
            b"hello world",
        );
        assert_eq!(
            out,
            b"2026-01-01T00:00:00.000000000Z stdout F hello world\n"
        );
        let record = decode(&out).expect("decodes");
        assert_eq!(record.time, at("2026-01-01T00:00:00Z"));
        assert_eq!(record.stream, Stream::Stdout);
        assert!(!record.partial);
        assert_eq!(record.content, b"hello world");
    }

    #[test]
    fn empty_lines_and_partial_records_decode() {
        let record = decode(b"2026-01-01T00:00:00.5Z stderr P ").expect("decodes");
        assert!(record.partial);
        assert_eq!(record.content, b"");
        assert_eq!(record.stream, Stream::Stderr);
    }

    #[test]
    fn malformed_records_are_none() {
        for line in [
            &b""[..],
            b"garbage",
            b"2026-01-01T00:00:00Z stdin F x",
            b"2026-01-01T00:00:00Z stdout X x",
            b"yesterday stdout F x",
        ] {
            assert_eq!(decode(line), None, "{line:?}");
        }
    }

    proptest! {
        #[test]
        fn decode_never_panics(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&line);
        }

        #[test]
        fn encode_then_decode_is_identity(
            content in proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..100),
            seconds in 0i64..4_000_000_000,
            nanos in 0i32..1_000_000_000,
            partial: bool,
        ) {
            let time = Timestamp::new(seconds, nanos).expect("in range");
            let mut out = Vec::new();
            encode(&mut out, time, Stream::Stderr, partial, &content);
            let record = decode(&out).expect("decodes");
            prop_assert_eq!(record.time, time);
            prop_assert_eq!(record.partial, partial);
            prop_assert_eq!(record.content, &content[..]);
        }
    }
}
