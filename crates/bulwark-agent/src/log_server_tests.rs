//! The log endpoint served on 127.0.0.1, reading real log files written by [`ContainerLog`].
#![allow(clippy::disallowed_methods)]

use std::sync::Mutex;
use std::time::Instant;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::*;
use crate::logs::{ContainerLog, RotationPolicy, Stream, instance_log_path};

/// Generous: the machine may be busy compiling; correctness never depends on speed.
const DEADLINE: Duration = Duration::from_secs(60);

/// One container `web` of pod `default/app`, whose current instance the test moves along.
struct TestLocator {
    dir: PathBuf,
    state: Mutex<(u32, bool)>,
}

impl TestLocator {
    fn set(&self, attempt: u32, running: bool) {
        *self.state.lock().expect("lock") = (attempt, running);
    }
}

impl LogLocator for TestLocator {
    fn locate(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<LogLocation, LogLookupError> {
        if (namespace, pod) != ("default", "app") {
            return Err(LogLookupError::NotFound(format!(
                "pod {pod:?} does not exist"
            )));
        }
        if container != "web" {
            return Err(LogLookupError::NotFound(format!(
                "container {container:?} not found in pod {pod:?}"
            )));
        }
        let (attempt, running) = *self.state.lock().expect("lock");
        match (previous, attempt) {
            (true, 0) => Err(LogLookupError::BadRequest(format!(
                "previous terminated container {container:?} in pod {pod:?} not found"
            ))),
            (true, current) => Ok(LogLocation {
                dir: self.dir.clone(),
                attempt: current - 1,
                running: false,
            }),
            (false, current) => Ok(LogLocation {
                dir: self.dir.clone(),
                attempt: current,
                running,
            }),
        }
    }
}

struct Fixture {
    _temp: tempfile::TempDir,
    locator: Arc<TestLocator>,
    port: u16,
}

impl Fixture {
    async fn start() -> Self {
        let temp = tempfile::tempdir().expect("tempdir");
        let locator = Arc::new(TestLocator {
            dir: temp.path().join("uid-1").join("web"),
            state: Mutex::new((0, true)),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let serving = Arc::clone(&locator) as Arc<dyn LogLocator>;
        tokio::spawn(serve(listener, serving));
        Self {
            _temp: temp,
            locator,
            port,
        }
    }

    fn log(&self, attempt: u32, policy: RotationPolicy) -> ContainerLog {
        ContainerLog::open(&instance_log_path(&self.locator.dir, attempt), policy).expect("open")
    }

    async fn open(&self, path_and_query: &str) -> (StatusCode, Incoming) {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        let request = http::Request::get(path_and_query)
            .header(http::header::HOST, "127.0.0.1")
            .body(http_body_util::Empty::<Bytes>::new())
            .expect("request");
        let response = sender.send_request(request).await.expect("response");
        (response.status(), response.into_body())
    }

    async fn get(&self, path_and_query: &str) -> (StatusCode, String) {
        let (status, body) = self.open(path_and_query).await;
        let bytes = body.collect().await.expect("body").to_bytes();
        (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
    }
}

fn second(n: i64) -> Timestamp {
    Timestamp::new(1_767_225_600 + n, 0).expect("in range")
}

fn write_lines(log: &mut ContainerLog, lines: std::ops::Range<i64>) {
    for n in lines {
        log.write(Stream::Stdout, second(n), format!("line {n}\n").as_bytes())
            .expect("write");
    }
}

const LOGS: &str = "/containerLogs/default/app/web";

#[tokio::test]
async fn serves_the_log_as_kubectl_prints_it() {
    let fixture = Fixture::start().await;
    write_lines(&mut fixture.log(0, RotationPolicy::default()), 0..5);
    let (status, body) = fixture.get(LOGS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "line 0\nline 1\nline 2\nline 3\nline 4\n");
    let (_, tail) = fixture
        .get(&format!("{LOGS}?tailLines=2&timestamps=true"))
        .await;
    assert_eq!(
        tail,
        "2026-01-01T00:00:03Z line 3\n2026-01-01T00:00:04Z line 4\n"
    );
    let (_, limited) = fixture.get(&format!("{LOGS}?limitBytes=9")).await;
    assert_eq!(limited, "line 0\nli");
    let since = "2026-01-01T00:00:03Z";
    let (_, recent) = fixture.get(&format!("{LOGS}?sinceTime={since}")).await;
    assert_eq!(recent, "line 3\nline 4\n");
    let (_, all) = fixture.get(&format!("{LOGS}?tail=all")).await;
    assert_eq!(all.lines().count(), 5);
}

#[tokio::test]
async fn a_long_log_streams_through_in_chunks() {
    let fixture = Fixture::start().await;
    write_lines(&mut fixture.log(0, RotationPolicy::default()), 0..20_000);
    let (status, body) = fixture.get(LOGS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.lines().count(), 20_000);
    assert_eq!(body.lines().last(), Some("line 19999"));
}

#[tokio::test]
async fn previous_reads_the_earlier_instance() {
    let fixture = Fixture::start().await;
    let (status, body) = fixture.get(&format!("{LOGS}?previous=true")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        "previous terminated container \"web\" in pod \"app\" not found"
    );
    write_lines(&mut fixture.log(0, RotationPolicy::default()), 0..2);
    write_lines(&mut fixture.log(1, RotationPolicy::default()), 10..11);
    fixture.locator.set(1, true);
    assert_eq!(
        fixture.get(&format!("{LOGS}?previous=true")).await.1,
        "line 0\nline 1\n"
    );
    assert_eq!(fixture.get(LOGS).await.1, "line 10\n");
}

#[tokio::test]
async fn unknown_pods_and_containers_are_404() {
    let fixture = Fixture::start().await;
    let (status, body) = fixture.get("/containerLogs/default/other/web").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, "pod \"other\" does not exist");
    let (status, body) = fixture.get("/containerLogs/default/app/db").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, "container \"db\" not found in pod \"app\"");
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let fixture = Fixture::start().await;
    let cases = [
        (
            "tailLines=-1",
            "tailLines: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            "limitBytes=0",
            "limitBytes: Invalid value: 0: must be greater than 0",
        ),
        (
            "sinceSeconds=0",
            "sinceSeconds: Invalid value: 0: must be greater than 0",
        ),
        (
            "sinceSeconds=soon",
            "invalid sinceSeconds \"soon\": not an integer",
        ),
        ("tailLines=1e3", "invalid tailLines \"1e3\": not an integer"),
        (
            "sinceTime=yesterday",
            "invalid sinceTime \"yesterday\": not an RFC 3339 time",
        ),
        (
            "sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z",
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ),
    ];
    for (query, message) in cases {
        let (status, body) = fixture.get(&format!("{LOGS}?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body, message, "{query}");
    }
}

#[test]
fn options_parse_as_the_kubelet_decodes_them() {
    let now = second(100);
    let options = LogOptions::parse(Some("follow&previous=F&timestamps=1&sinceSeconds=30"), now)
        .expect("parses");
    assert!(options.follow, "a bare flag is true");
    assert!(!options.previous, "F is false");
    assert!(options.query.timestamps);
    assert_eq!(options.query.since, Some(second(70)));
    let huge = LogOptions::parse(Some("sinceSeconds=9223372036854775807"), now).expect("parses");
    assert_eq!(huge.query.since, Some(Timestamp::MIN));
    assert_eq!(
        LogOptions::parse(None, now).expect("parses"),
        LogOptions::default()
    );
}

/// Reads from a streaming body until `wanted` has arrived (or the deadline passes).
async fn read_until(body: &mut Incoming, seen: &mut String, wanted: &str) {
    let deadline = Instant::now() + DEADLINE;
    while !seen.contains(wanted) {
        assert!(
            Instant::now() < deadline,
            "never saw {wanted:?}; saw {seen:?}"
        );
        let frame = tokio::time::timeout(DEADLINE, body.frame())
            .await
            .expect("a frame in time")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            seen.push_str(std::str::from_utf8(&data).expect("utf-8"));
        }
    }
}

#[tokio::test]
async fn follow_streams_across_rotation_until_the_instance_stops() {
    let fixture = Fixture::start().await;
    let policy = RotationPolicy {
        max_file_bytes: 200,
        max_files: 3,
    };
    let mut log = fixture.log(0, policy);
    write_lines(&mut log, 0..2);
    let (status, mut body) = fixture.open(&format!("{LOGS}?follow=true")).await;
    assert_eq!(status, StatusCode::OK);
    let mut seen = String::new();
    read_until(&mut body, &mut seen, "line 1\n").await;
    // Rotates every four lines, several times while the client follows; each batch is read
    // before the next so the writer never rotates a file out of retention unread (lines
    // would be lost then, as with the kubelet).
    for batch in 0..7 {
        let start = 2 + batch * 4;
        write_lines(&mut log, start..start + 4);
        read_until(&mut body, &mut seen, &format!("line {}\n", start + 3)).await;
    }
    write_lines(&mut log, 30..31);
    fixture.locator.set(0, false);
    let rest = tokio::time::timeout(DEADLINE, body.collect())
        .await
        .expect("the stream ends once the instance stopped")
        .expect("clean end")
        .to_bytes();
    seen.push_str(std::str::from_utf8(&rest).expect("utf-8"));
    let expected: String = (0..31).map(|n| format!("line {n}\n")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn follow_stops_when_the_client_goes_away() {
    let fixture = Fixture::start().await;
    write_lines(&mut fixture.log(0, RotationPolicy::default()), 0..1);
    // The router holds one reference; each streaming request holds another until it ends.
    let idle = Arc::strong_count(&fixture.locator);
    let (_, mut body) = fixture.open(&format!("{LOGS}?follow=true")).await;
    let mut seen = String::new();
    read_until(&mut body, &mut seen, "line 0\n").await;
    assert!(
        Arc::strong_count(&fixture.locator) > idle,
        "a follower runs"
    );
    drop(body);
    let deadline = Instant::now() + DEADLINE;
    while Arc::strong_count(&fixture.locator) > idle {
        assert!(
            Instant::now() < deadline,
            "the follower outlived its client"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn follow_with_limit_bytes_ends_at_the_limit() {
    let fixture = Fixture::start().await;
    let mut log = fixture.log(0, RotationPolicy::default());
    write_lines(&mut log, 0..1);
    let (_, mut body) = fixture
        .open(&format!("{LOGS}?follow=1&limitBytes=10"))
        .await;
    let mut seen = String::new();
    read_until(&mut body, &mut seen, "line 0\n").await;
    write_lines(&mut log, 1..3);
    let rest = tokio::time::timeout(DEADLINE, body.collect())
        .await
        .expect("the stream ends at the limit")
        .expect("clean end")
        .to_bytes();
    seen.push_str(std::str::from_utf8(&rest).expect("utf-8"));
    assert_eq!(seen, "line 0\nlin");
}
