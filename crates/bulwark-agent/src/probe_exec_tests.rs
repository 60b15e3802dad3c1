//! Probes against real listeners on 127.0.0.1 and real `sh -c` commands.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ExecAction, GRPCAction, HTTPGetAction, HTTPHeader, Probe,
    TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;

/// Generous: the machine may be busy; nothing here depends on speed except the timeout tests,
/// which only need the command to outlast a short timeout.
const TIMEOUT: Duration = Duration::from_secs(20);

fn container() -> Container {
    Container {
        name: "web".to_string(),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_string()),
            container_port: 8080,
            ..ContainerPort::default()
        }]),
        ..Container::default()
    }
}

fn target<'a>(container: &'a Container, env: &'a [(String, String)]) -> ProbeTarget<'a> {
    ProbeTarget {
        container,
        pod_ip: "127.0.0.1",
        env,
        working_dir: None,
    }
}

fn path_env() -> Vec<(String, String)> {
    vec![(
        "PATH".to_string(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string()),
    )]
}

async fn serve(app: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

async fn test_server() -> u16 {
    let app = Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route(
            "/unavailable",
            get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .route("/not-modified", get(|| async { StatusCode::NOT_MODIFIED }))
        .route("/moved", get(|| async { Redirect::temporary("/ok") }))
        .route(
            "/moved-to-failure",
            get(|| async { Redirect::to("/unavailable") }),
        )
        .route(
            "/elsewhere",
            get(|| async { Redirect::temporary("http://localhost:1/unavailable") }),
        )
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route("/headers", get(check_headers));
    serve(app).await
}

/// 200 only when the probe sent upstream's defaults and the configured headers.
async fn check_headers(headers: HeaderMap) -> impl IntoResponse {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let as_expected = header("user-agent") == "kube-probe/1.33"
        && header("accept") == "*/*"
        && header("x-probe") == "yes"
        && header("host") == "example.test";
    if as_expected {
        StatusCode::OK
    } else {
        StatusCode::IM_A_TEAPOT
    }
}

fn http_probe(port: IntOrString, path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            port,
            path: Some(path.to_string()),
            ..HTTPGetAction::default()
        }),
        ..Probe::default()
    }
}

async fn http(port: u16, path: &str) -> ProbeResult {
    let container = container();
    let probe = http_probe(IntOrString::Int(i32::from(port)), path);
    run_probe(&probe, &target(&container, &[]), TIMEOUT).await
}

#[tokio::test]
async fn http_status_decides_success() {
    let port = test_server().await;
    assert_eq!(http(port, "/ok").await, ProbeResult::Success);
    assert_eq!(http(port, "/not-modified").await, ProbeResult::Success);
    assert_eq!(
        http(port, "/unavailable").await,
        ProbeResult::Failure("HTTP probe failed with statuscode: 503".to_string())
    );
    assert_eq!(
        http(port, "/missing").await,
        ProbeResult::Failure("HTTP probe failed with statuscode: 404".to_string())
    );
}

#[tokio::test]
async fn http_redirects_follow_the_same_host_only() {
    let port = test_server().await;
    assert_eq!(http(port, "/moved").await, ProbeResult::Success);
    assert_eq!(
        http(port, "/moved-to-failure").await,
        ProbeResult::Failure("HTTP probe failed with statuscode: 503".to_string())
    );
    // Another host: not followed, and the redirect itself passes.
    assert_eq!(http(port, "/elsewhere").await, ProbeResult::Success);
    assert_eq!(
        http(port, "/loop").await,
        ProbeResult::Failure(format!(
            "Get \"http://127.0.0.1:{port}/loop\": stopped after 10 redirects"
        ))
    );
}

#[tokio::test]
async fn http_sends_default_and_configured_headers() {
    let port = test_server().await;
    let container = container();
    let mut probe = http_probe(IntOrString::Int(i32::from(port)), "headers");
    probe.http_get.as_mut().expect("httpGet").http_headers = Some(vec![
        HTTPHeader {
            name: "X-Probe".to_string(),
            value: "yes".to_string(),
        },
        HTTPHeader {
            name: "Host".to_string(),
            value: "example.test".to_string(),
        },
    ]);
    let result = run_probe(&probe, &target(&container, &[]), TIMEOUT).await;
    assert_eq!(result, ProbeResult::Success);
}

#[tokio::test]
async fn http_named_port_resolves_against_the_container() {
    let port = test_server().await;
    let mut container = container();
    container.ports.as_mut().expect("ports")[0].container_port = i32::from(port);
    let probe = http_probe(IntOrString::String("http".to_string()), "/ok");
    let result = run_probe(&probe, &target(&container, &[]), TIMEOUT).await;
    assert_eq!(result, ProbeResult::Success);
}

#[tokio::test]
async fn http_timeout_and_refused_connection_fail_with_go_texts() {
    let port = test_server().await;
    let container = container();
    let probe = http_probe(IntOrString::Int(i32::from(port)), "/slow");
    let result = run_probe(&probe, &target(&container, &[]), Duration::from_millis(300)).await;
    assert_eq!(
        result,
        ProbeResult::Failure(format!(
            "Get \"http://127.0.0.1:{port}/slow\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        ))
    );
    let closed = closed_port().await;
    assert_eq!(
        http(closed, "/").await,
        ProbeResult::Failure(format!(
            "Get \"http://127.0.0.1:{closed}/\": dial tcp 127.0.0.1:{closed}: connect: connection refused"
        ))
    );
}

/// A loopback port nothing listens on (bound, then released).
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("address").port()
}

#[tokio::test]
async fn bad_ports_and_unsupported_probes_are_errors_not_panics() {
    let container = container();
    let cases = [
        (
            http_probe(IntOrString::Int(0), "/"),
            "invalid port number: 0",
        ),
        (
            http_probe(IntOrString::Int(70_000), "/"),
            "invalid port number: 70000",
        ),
        (
            http_probe(IntOrString::Int(-5), "/"),
            "invalid port number: -5",
        ),
        (
            http_probe(IntOrString::String("admin".to_string()), "/"),
            "port admin not found in container web",
        ),
        (Probe::default(), "missing probe handler for container web"),
        (
            Probe {
                exec: Some(ExecAction { command: None }),
                ..Probe::default()
            },
            "exec probe has no command",
        ),
    ];
    for (probe, message) in cases {
        let result = run_probe(&probe, &target(&container, &[]), TIMEOUT).await;
        assert_eq!(result, ProbeResult::Error(message.to_string()));
    }
    let grpc = Probe {
        grpc: Some(GRPCAction {
            port: 9000,
            service: None,
        }),
        ..Probe::default()
    };
    let result = run_probe(&grpc, &target(&container, &[]), TIMEOUT).await;
    assert!(matches!(result, ProbeResult::Error(message) if message.contains("gRPC")));
    let mut https = http_probe(IntOrString::Int(443), "/");
    https.http_get.as_mut().expect("httpGet").scheme = Some("HTTPS".to_string());
    let result = run_probe(&https, &target(&container, &[]), TIMEOUT).await;
    assert!(matches!(result, ProbeResult::Error(message) if message.contains("HTTPS")));
}

#[test]
fn a_named_port_may_be_a_number_written_as_text() {
    let container = container();
    assert_eq!(
        resolve_port(&IntOrString::String("8443".to_string()), &container),
        Ok(8443)
    );
    assert_eq!(
        resolve_port(&IntOrString::String("http".to_string()), &container),
        Ok(8080)
    );
}

fn tcp_probe(port: u16) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::Int(i32::from(port)),
            host: None,
        }),
        ..Probe::default()
    }
}

#[tokio::test]
async fn tcp_passes_when_a_connection_opens() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let container = container();
    let result = run_probe(&tcp_probe(port), &target(&container, &[]), TIMEOUT).await;
    assert_eq!(result, ProbeResult::Success);
    drop(listener);
    let result = run_probe(&tcp_probe(port), &target(&container, &[]), TIMEOUT).await;
    assert_eq!(
        result,
        ProbeResult::Failure(format!(
            "dial tcp 127.0.0.1:{port}: connect: connection refused"
        ))
    );
}

fn exec_probe(script: &str) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        }),
        ..Probe::default()
    }
}

async fn exec(script: &str, env: &[(String, String)], timeout: Duration) -> ProbeResult {
    let container = container();
    run_probe(&exec_probe(script), &target(&container, env), timeout).await
}

#[tokio::test]
async fn exec_exit_code_decides_and_output_explains_failure() {
    let env = path_env();
    assert_eq!(exec("exit 0", &env, TIMEOUT).await, ProbeResult::Success);
    assert_eq!(
        exec("echo out; echo err >&2; exit 3", &env, TIMEOUT).await,
        ProbeResult::Failure("out\nerr\n".to_string())
    );
    assert_eq!(
        exec("exit 4", &env, TIMEOUT).await,
        ProbeResult::Failure("command \"sh -c exit 4\" exited with code 4".to_string())
    );
}

#[tokio::test]
async fn exec_sees_the_container_env_and_working_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("healthy"), b"").expect("write");
    let mut env = path_env();
    env.push(("WANTED".to_string(), "yes".to_string()));
    let container = container();
    let target = ProbeTarget {
        working_dir: Some(dir.path()),
        ..target(&container, &env)
    };
    let probe = exec_probe(r#"test "$WANTED" = yes && test -e healthy && test -z "$HOME""#);
    assert_eq!(
        run_probe(&probe, &target, TIMEOUT).await,
        ProbeResult::Success
    );
}

#[tokio::test]
async fn exec_output_is_bounded() {
    let env = path_env();
    let result = exec(
        "head -c 100000 /dev/zero | tr '\\0' x; exit 1",
        &env,
        TIMEOUT,
    )
    .await;
    let ProbeResult::Failure(output) = result else {
        panic!("expected a failure, got {result:?}");
    };
    assert_eq!(output.len(), MAX_OUTPUT_BYTES);
}

#[tokio::test]
async fn exec_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("child.pid");
    let env = path_env();
    // A background grandchild that would outlive its shell if only the shell were killed.
    let script = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
    let result = exec(&script, &env, Duration::from_secs(3)).await;
    assert_eq!(
        result,
        ProbeResult::Failure(format!("command \"sh -c {script}\" timed out"))
    );
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid written")
        .trim()
        .parse()
        .expect("pid");
    let gone = (0..200).any(|_| {
        let alive = is_running(pid);
        if alive {
            std::thread::sleep(Duration::from_millis(50));
        }
        !alive
    });
    assert!(gone, "the grandchild {pid} survived the timeout");
}

/// Alive and not a zombie (a killed grandchild is reaped by init, possibly not at once).
fn is_running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
    }
}

#[tokio::test]
async fn exec_of_a_missing_program_fails_clearly() {
    let container = container();
    let probe = Probe {
        exec: Some(ExecAction {
            command: Some(vec!["/nonexistent/probe".to_string()]),
        }),
        ..Probe::default()
    };
    let result = run_probe(&probe, &target(&container, &[]), TIMEOUT).await;
    assert_eq!(
        result,
        ProbeResult::Failure("fork/exec /nonexistent/probe: no such file or directory".to_string())
    );
}

#[tokio::test]
async fn exec_of_an_unknown_command_name_says_it_is_not_in_path() {
    let env = path_env();
    let container = container();
    let probe = Probe {
        exec: Some(ExecAction {
            command: Some(vec!["no-such-probe-command".to_string()]),
        }),
        ..Probe::default()
    };
    let result = run_probe(&probe, &target(&container, &env), TIMEOUT).await;
    assert_eq!(
        result,
        ProbeResult::Failure(
            "exec: \"no-such-probe-command\": executable file not found in $PATH".to_string()
        )
    );
}

#[tokio::test]
async fn exec_that_exits_leaving_a_background_process_is_judged_by_its_exit_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("child.pid");
    let env = path_env();
    // The background sleep keeps the output pipe open past the shell's exit.
    let script = format!("sleep 60 & echo $! > {}; exit 0", pid_file.display());
    let result = exec(&script, &env, Duration::from_secs(2)).await;
    assert_eq!(result, ProbeResult::Success);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid written")
        .trim()
        .parse()
        .expect("pid");
    let gone = (0..200).any(|_| {
        let alive = is_running(pid);
        if alive {
            std::thread::sleep(Duration::from_millis(50));
        }
        !alive
    });
    assert!(gone, "the probe's leftover {pid} was not killed");
}
