//! Slow and idle clients against the real HTTP server: connections opened and left idle,
//! half-sent heads and half-sent bodies are closed within the configured time, a client
//! that never reads its answers is cut off, connections over the per-address cap are
//! answered 503 at once, and a normal request from elsewhere is served while hundreds
//! are held.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use frontdesk::config::HttpLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::{metric, TestApi, TestDb};

// Long enough that 200 connections, their first bytes and a scrape fit before the first
// deadline on a loaded 2-core machine.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
const BODY_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
const PER_ADDRESS: usize = 150;

async fn api() -> TestApi {
    let mut api = TestApi::spawn_with_http(
        TestDb::new().await,
        HttpLimits {
            header_timeout: HEADER_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
            max_connections: 1000,
            max_connections_per_address: PER_ADDRESS,
        },
    )
    .await;
    // Connections closed by the server's idle deadline are not reused.
    api.http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    api
}

fn addr(api: &TestApi) -> SocketAddr {
    api.base.trim_start_matches("http://").parse().unwrap()
}

/// Everything the server sends until it closes the connection, or `None` if it is
/// still open at `deadline`.
async fn read_until_closed(stream: &mut TcpStream, deadline: Instant) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// `GET /metrics` of `server`.
async fn scrape(http: &reqwest::Client, server: SocketAddr) -> String {
    let res = http
        .get(format!("http://{server}/metrics"))
        .send()
        .await
        .unwrap();
    res.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_connections_are_closed_in_time_and_others_are_still_served() {
    let api = api().await;
    let server = addr(&api);
    let token = api.token("staff", "slow-client-test");
    // Another address (all of 127/8 is loopback) for the requests made beside the held
    // connections, so they do not count against 127.0.0.1's cap.
    // No kept-alive connections: the server closes idle ones after the head deadline,
    // and a request sent on one just then would fail.
    let elsewhere = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let before = scrape(&elsewhere, server).await;

    // 200 connections from 127.0.0.1; those over the cap are answered 503 at once.
    let held_from = Instant::now();
    let mut opened = Vec::new();
    for _ in 0..200 {
        opened.push(TcpStream::connect(server).await.unwrap());
    }
    // Wait until the server has refused those over the cap (its counter), then a moment
    // for the last 503s to arrive, before telling refused from held by what came back.
    crate::harness::eventually(
        "the connections over the cap refused",
        Duration::from_secs(5),
        || {
            let (elsewhere, before) = (&elsewhere, &before);
            async move {
                let now = scrape(elsewhere, server).await;
                let name = "frontdesk_http_connections_refused_total";
                let refused = metric(&now, name, "kind=\"per_address\"")
                    - metric(before, name, "kind=\"per_address\"");
                (refused >= (200 - PER_ADDRESS) as f64).then_some(())
            }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut refused = 0;
    let mut held = Vec::new();
    for (i, mut stream) in opened.into_iter().enumerate() {
        let mut first = [0u8; 64];
        if let Ok(n) = stream.try_read(&mut first) {
            assert!(
                first[..n].starts_with(b"HTTP/1.1 503"),
                "{:?}",
                String::from_utf8_lossy(&first[..n])
            );
            refused += 1;
            continue;
        }
        // A third stay idle, a third send half a head, a third a head and half a body.
        let partial = match i % 3 {
            0 => String::new(),
            1 => "GET /healthz HTTP/1.1\r\nHost: frontdesk\r\nX-Slow: ".to_owned(),
            _ => format!(
                "POST /api/agents/support/query HTTP/1.1\r\nHost: frontdesk\r\n\
                 Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
                 Content-Length: 200\r\n\r\n{{\"query\": \"wh"
            ),
        };
        stream.write_all(partial.as_bytes()).await.unwrap();
        held.push((i % 3, stream));
    }
    assert_eq!(
        refused,
        200 - PER_ADDRESS,
        "connections over the per-address cap"
    );

    // While they are held, a request from another address is served at once.
    let asked = Instant::now();
    let health = elsewhere
        .get(format!("http://{server}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "a request took {:?} while connections were held",
        asked.elapsed()
    );
    let during = scrape(&elsewhere, server).await;
    assert!(
        metric(&during, "frontdesk_http_connections_open", "") >= PER_ADDRESS as f64,
        "the open connections gauge counts the held ones"
    );
    assert!(
        held_from.elapsed() < HEADER_TIMEOUT,
        "the connections were opened and the request answered before the first deadline"
    );

    // Every held connection is closed by the server within its deadline and a margin.
    let deadline = held_from + HEADER_TIMEOUT.max(BODY_TIMEOUT) + Duration::from_secs(3);
    let mut timed_out_bodies = 0;
    for (kind, stream) in &mut held {
        let got = read_until_closed(stream, deadline)
            .await
            .unwrap_or_else(|| panic!("a connection of kind {kind} was still open"));
        let text = String::from_utf8_lossy(&got);
        if *kind == 2 {
            assert!(text.starts_with("HTTP/1.1 408"), "{text}");
            assert!(text.contains("did not arrive in time"), "{text}");
            timed_out_bodies += 1;
        }
    }
    assert!(timed_out_bodies > 0);

    let after = scrape(&elsewhere, server).await;
    let grew =
        |name: &str, labels: &str| metric(&after, name, labels) - metric(&before, name, labels);
    assert!(
        grew(
            "frontdesk_http_connections_refused_total",
            "kind=\"per_address\""
        ) >= 50.0
    );
    assert!(
        grew(
            "frontdesk_http_connections_cut_total",
            "kind=\"header_timeout\""
        ) >= 1.0
    );
    assert!(
        grew(
            "frontdesk_http_connections_cut_total",
            "kind=\"body_timeout\""
        ) >= 1.0
    );

    // The server still answers from the address whose connections were cut.
    assert_eq!(
        api.http
            .get(api.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_answers_is_cut_off() {
    let api = api().await;
    let server = addr(&api);
    let one = api
        .http
        .get(api.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len();
    let before = scrape(&api.http, server).await;
    // Enough pipelined requests that their answers overflow every socket buffer.
    let requests = (16 * 1024 * 1024 / one).max(50);
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    let ask = "GET /api/openapi.json HTTP/1.1\r\nHost: frontdesk\r\n\r\n".repeat(requests);
    stream.write_all(ask.as_bytes()).await.unwrap();

    // Nothing is read for a while; then the server has given up on us.
    tokio::time::sleep(WRITE_TIMEOUT * 3).await;
    let got = read_until_closed(&mut stream, Instant::now() + Duration::from_secs(10))
        .await
        .expect("the server closed the connection");
    assert!(
        got.len() < requests * one,
        "{} of {} bytes were sent: the stalled connection was not cut",
        got.len(),
        requests * one
    );
    let after = scrape(&api.http, server).await;
    let grew =
        |name: &str, labels: &str| metric(&after, name, labels) - metric(&before, name, labels);
    assert!(
        grew(
            "frontdesk_http_connections_cut_total",
            "kind=\"write_timeout\""
        ) >= 1.0,
        "{after}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_refused() {
    let api = TestApi::spawn(TestDb::new().await).await;
    let token = api.token("staff", "array-body-test");
    for body in [r#"["how many clients do we have?"]"#, "\"hello\"", "42"] {
        let res = api
            .http
            .post(api.url("/api/agents/support/query"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{body}"
        );
        let problem: serde_json::Value = res.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains("JSON object"),
            "{problem}"
        );
    }
}
