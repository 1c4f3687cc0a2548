//! Twilio SMS, SendGrid email and Google Calendar clients against wiremock fakes that
//! check the exact requests the real APIs expect.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use frontdesk::config::Settings;
use frontdesk::domain::ObjectId;
use frontdesk::integrations::calendar::{CalendarClient, CalendarEvent};
use frontdesk::integrations::email::EmailSender;
use frontdesk::integrations::sms::SmsSender;
use frontdesk::integrations::IntegrationError;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PRIVATE_KEY: &str = include_str!("../fixtures/google-test-key.pem");
const PUBLIC_KEY: &str = include_str!("../fixtures/google-test-key.pub.pem");
const CLIENT_EMAIL: &str = "frontdesk@fd-test.iam.gserviceaccount.com";
pub(crate) const CALENDAR_ID: &str = "studio@group.calendar.google.com";
const EVENTS_PATH: &str = "/calendar/v3/calendars/studio%40group.calendar.google.com/events";

fn settings(pairs: &[(&str, &str)]) -> Settings {
    let env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Settings::from_env(env).unwrap()
}

/// The fields of a form-encoded body, in order.
fn form_fields(request: &Request) -> Vec<(String, String)> {
    let body = String::from_utf8(request.body.clone()).unwrap();
    reqwest::Url::parse(&format!("http://form.invalid/?{body}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn retryable_refusal(e: &IntegrationError, want: u16) -> bool {
    matches!(e, IntegrationError::Refused { status, .. } if *status == want) && e.is_retryable()
}

// --- Twilio --------------------------------------------------------------------------------

fn twilio(server: &MockServer, from: &str) -> SmsSender {
    SmsSender::from_settings(&settings(&[
        ("TWILIO_ACCOUNT_SID", "ACtest123"),
        ("TWILIO_AUTH_TOKEN", "twilio-secret"),
        ("TWILIO_FROM", from),
        ("TWILIO_API_URL", &server.uri()),
    ]))
    .unwrap()
}

const TWILIO_PATH: &str = "/2010-04-01/Accounts/ACtest123/Messages.json";
/// `ACtest123:twilio-secret` in base64.
const TWILIO_BASIC: &str = "Basic QUN0ZXN0MTIzOnR3aWxpby1zZWNyZXQ=";

#[tokio::test]
async fn twilio_gets_a_form_with_basic_auth_and_the_message_sid_comes_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TWILIO_PATH))
        .and(header("authorization", TWILIO_BASIC))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM0123456789abcdef0123456789abcdef",
            "status": "queued",
            "to": "+919812345678",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let sms = twilio(&server, "+15005550006");
    let sid = sms
        .send("+919812345678", "Hatha Flow starts at 07:00 & ends 08:00 ✓")
        .await
        .unwrap();
    assert_eq!(sid, "SM0123456789abcdef0123456789abcdef");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        form_fields(&requests[0]),
        [
            ("To".to_owned(), "+919812345678".to_owned()),
            ("From".to_owned(), "+15005550006".to_owned()),
            (
                "Body".to_owned(),
                "Hatha Flow starts at 07:00 & ends 08:00 ✓".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn twilio_long_bodies_are_cut_and_messaging_services_are_named_as_such() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TWILIO_PATH))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "sid": "SM1" })))
        .mount(&server)
        .await;
    let sms = twilio(&server, "MG0123456789abcdef0123456789abcdef");
    let long = "Ω".repeat(2000);
    assert_eq!(sms.send("+919812345678", &long).await.unwrap(), "SM1");
    let requests = server.received_requests().await.unwrap();
    let fields = form_fields(&requests[0]);
    assert_eq!(
        fields[1],
        (
            "MessagingServiceSid".to_owned(),
            "MG0123456789abcdef0123456789abcdef".to_owned()
        )
    );
    let body = &fields[2].1;
    assert_eq!(body.chars().count(), 1600);
    assert!(body.ends_with("Ω…"));
}

#[tokio::test]
async fn twilio_errors_are_refusals_and_only_outages_are_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TWILIO_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 21211,
            "message": "Invalid 'To' Phone Number: +91000",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TWILIO_PATH))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream trouble"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TWILIO_PATH))
        .respond_with(ResponseTemplate::new(201).set_body_string("<html>not json</html>"))
        .mount(&server)
        .await;
    let sms = twilio(&server, "+15005550006");

    let refused = sms.send("+91000", "hi").await.unwrap_err();
    match &refused {
        IntegrationError::Refused { status, body, .. } => {
            assert_eq!(*status, 400);
            assert_eq!(
                body,
                "Invalid 'To' Phone Number: +91000 (Twilio error 21211)"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!refused.is_retryable());

    let outage = sms.send("+919812345678", "hi").await.unwrap_err();
    assert!(retryable_refusal(&outage, 500), "{outage:?}");

    // Accepted (201) with an unreadable body: sent, not retried into a second SMS.
    let garbage = sms.send("+919812345678", "hi").await.unwrap();
    assert_eq!(garbage, "unknown");

    // Nothing listens here (wiremock pools its servers, so not a dropped MockServer).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gone = SmsSender::from_settings(&settings(&[
        ("TWILIO_ACCOUNT_SID", "ACtest123"),
        ("TWILIO_AUTH_TOKEN", "twilio-secret"),
        ("TWILIO_FROM", "+15005550006"),
        ("TWILIO_API_URL", &uri),
    ]))
    .unwrap();
    let e = gone.send("+919812345678", "hi").await.unwrap_err();
    assert!(
        matches!(e, IntegrationError::Unreachable { .. }) && e.is_retryable(),
        "{e:?}"
    );
    assert!(!format!("{e} {e:?}").contains("twilio-secret"));
}

#[test]
fn twilio_is_off_without_all_three_credentials() {
    let all = [
        ("TWILIO_ACCOUNT_SID", "ACtest123"),
        ("TWILIO_AUTH_TOKEN", "twilio-secret"),
        ("TWILIO_FROM", "+15005550006"),
    ];
    assert!(SmsSender::from_settings(&settings(&all)).is_some());
    for missing in 0..all.len() {
        let some: Vec<_> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, kv)| *kv)
            .collect();
        assert!(SmsSender::from_settings(&settings(&some)).is_none());
    }
}

// --- SendGrid ------------------------------------------------------------------------------

fn sendgrid(server: &MockServer) -> EmailSender {
    EmailSender::from_settings(&settings(&[
        ("SENDGRID_API_KEY", "SG.test-key"),
        ("SENDGRID_API_URL", &server.uri()),
        ("EMAIL_FROM", "desk@studio.example"),
    ]))
    .unwrap()
}

#[tokio::test]
async fn sendgrid_gets_the_mail_with_the_outbox_key_in_custom_args() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header("authorization", "Bearer SG.test-key"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(202))
        .expect(2)
        .mount(&server)
        .await;
    let email = sendgrid(&server);
    let studio = Settings::from_env(HashMap::new()).unwrap().studio.name;
    email
        .send_with_key(
            "priya@example.com",
            "Payment received for order #1042",
            "Hi Priya,\n\nThank you.",
            "outbox:65f0c0ffee0123456789abcd",
        )
        .await
        .unwrap();
    email
        .send("priya@example.com", "Link code", "123456")
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests[0].body_json::<Value>().unwrap(),
        json!({
            "personalizations": [{ "to": [{ "email": "priya@example.com" }] }],
            "from": { "email": "desk@studio.example", "name": studio },
            "subject": "Payment received for order #1042",
            "content": [{ "type": "text/plain", "value": "Hi Priya,\n\nThank you." }],
            "custom_args": { "frontdesk_id": "outbox:65f0c0ffee0123456789abcd" },
        })
    );
    let plain = requests[1].body_json::<Value>().unwrap();
    assert!(plain.get("custom_args").is_none(), "{plain}");
    assert_eq!(plain["subject"], "Link code");
}

#[tokio::test]
async fn sendgrid_errors_carry_its_messages_and_only_outages_are_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [
                { "message": "Does not contain a valid address.", "field": "personalizations.0.to.0.email", "help": null },
                { "message": "The subject is required.", "field": null },
            ]
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
        .mount(&server)
        .await;
    let email = sendgrid(&server);
    let refused = email
        .send_with_key("not-an-address", "", "x", "k1")
        .await
        .unwrap_err();
    match &refused {
        IntegrationError::Refused { status, body, .. } => {
            assert_eq!(*status, 400);
            assert_eq!(
                body,
                "Does not contain a valid address. (personalizations.0.to.0.email); \
                 The subject is required."
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!refused.is_retryable());
    let outage = email.send("priya@example.com", "s", "t").await.unwrap_err();
    assert!(retryable_refusal(&outage, 503), "{outage:?}");
    match outage {
        IntegrationError::Refused { body, .. } => assert_eq!(body, "Service Unavailable"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sendgrid_is_off_without_key_or_sender() {
    assert!(EmailSender::from_settings(&settings(&[("SENDGRID_API_KEY", "SG.k")])).is_none());
    assert!(EmailSender::from_settings(&settings(&[("EMAIL_FROM", "a@b.example")])).is_none());
}

// --- Google Calendar -----------------------------------------------------------------------

pub(crate) fn service_account_json(token_uri: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "fd-test",
        "private_key_id": "kid-0123",
        "private_key": PRIVATE_KEY,
        "client_email": CLIENT_EMAIL,
        "client_id": "100000000000000000001",
        "token_uri": token_uri,
    })
    .to_string()
}

/// A Google token endpoint at `token_path` that issues `tok-1`, `tok-2`, … only for an
/// assertion signed with the test key whose claims are right for `audience` (by default
/// the endpoint's own URL); anything else is `invalid_grant`.
pub(crate) async fn mount_token_endpoint(
    server: &MockServer,
    token_path: &str,
) -> Arc<AtomicUsize> {
    let audience = format!("{}{token_path}", server.uri());
    mount_strict_token_endpoint(server, token_path, audience).await
}

async fn mount_strict_token_endpoint(
    server: &MockServer,
    token_path: &str,
    audience: String,
) -> Arc<AtomicUsize> {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    Mock::given(method("POST"))
        .and(path(token_path))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(
            move |request: &Request| match verify_assertion(request, &audience) {
                Ok(()) => {
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    ResponseTemplate::new(200).set_body_json(json!({
                        "access_token": format!("tok-{n}"),
                        "expires_in": 3599,
                        "token_type": "Bearer",
                    }))
                }
                Err(why) => ResponseTemplate::new(400).set_body_json(json!({
                    "error": "invalid_grant",
                    "error_description": why,
                })),
            },
        )
        .mount(server)
        .await;
    issued
}

fn verify_assertion(request: &Request, audience: &str) -> Result<(), String> {
    let fields: HashMap<String, String> = form_fields(request).into_iter().collect();
    if fields.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return Err(format!("grant_type {:?}", fields.get("grant_type")));
    }
    let assertion = fields.get("assertion").ok_or("no assertion")?;
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| e.to_string())?;
    if header.alg != Algorithm::RS256 || header.kid.as_deref() != Some("kid-0123") {
        return Err(format!("header {header:?}"));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let key = DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).map_err(|e| e.to_string())?;
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|e| e.to_string())?
        .claims;
    if claims["scope"] != "https://www.googleapis.com/auth/calendar.events" {
        return Err(format!("scope {}", claims["scope"]));
    }
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap_or(0),
        claims["exp"].as_i64().unwrap_or(0),
    );
    if exp - iat != 3600 || (Utc::now().timestamp() - iat).abs() > 60 {
        return Err(format!("iat {iat} exp {exp}"));
    }
    Ok(())
}

fn calendar(server: &MockServer, extra: &[(&str, &str)]) -> CalendarClient {
    let json = service_account_json(&format!("{}/token", server.uri()));
    let api = server.uri();
    let mut pairs = vec![
        ("GOOGLE_CALENDAR_ID", CALENDAR_ID),
        ("GOOGLE_SERVICE_ACCOUNT_JSON", json.as_str()),
        ("GOOGLE_API_URL", api.as_str()),
    ];
    pairs.extend_from_slice(extra);
    CalendarClient::from_settings(&settings(&pairs))
        .unwrap()
        .unwrap()
}

fn class_event(class_id: &ObjectId) -> CalendarEvent {
    CalendarEvent {
        id: CalendarClient::event_id_for(class_id),
        summary: "Hatha Flow".into(),
        description: "With Asha. 12 places.".into(),
        location: Some("Studio A".into()),
        start: Utc.with_ymd_and_hms(2026, 3, 2, 1, 30, 0).unwrap(),
        end: Utc.with_ymd_and_hms(2026, 3, 2, 2, 30, 0).unwrap(),
        time_zone: "+05:30".into(),
    }
}

fn event_json(event: &CalendarEvent) -> Value {
    json!({
        "id": event.id,
        "summary": "Hatha Flow",
        "description": "With Asha. 12 places.",
        "location": "Studio A",
        "start": { "dateTime": "2026-03-02T07:00:00+05:30" },
        "end": { "dateTime": "2026-03-02T08:00:00+05:30" },
        "status": "confirmed",
    })
}

#[tokio::test]
async fn calendar_signs_a_jwt_for_a_token_and_inserts_the_event_under_its_id() {
    let server = MockServer::start().await;
    // No GOOGLE_TOKEN_URL: the key file's token_uri is used.
    let issued = mount_token_endpoint(&server, "/token").await;
    Mock::given(method("POST"))
        .and(path(EVENTS_PATH))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "status": "confirmed" })))
        .expect(2)
        .mount(&server)
        .await;
    let client = calendar(&server, &[]);
    let class_id = ObjectId::parse_str("65f0c0ffee0123456789abcd").unwrap();
    let event = class_event(&class_id);
    assert_eq!(event.id, "fd65f0c0ffee0123456789abcd");
    client.upsert_event(&event).await.unwrap();
    // The token is cached: a second event needs no new one.
    client.upsert_event(&event).await.unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 1);
    let requests = server.received_requests().await.unwrap();
    let inserts: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == EVENTS_PATH)
        .collect();
    assert_eq!(inserts[0].body_json::<Value>().unwrap(), event_json(&event));
    assert!(!format!("{client:?}").contains("PRIVATE KEY"));
}

#[tokio::test]
async fn calendar_updates_an_event_whose_id_exists() {
    let server = MockServer::start().await;
    mount_token_endpoint(&server, "/oauth/token").await;
    Mock::given(method("POST"))
        .and(path(EVENTS_PATH))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "error": { "code": 409, "message": "The requested identifier already exists.",
                       "errors": [{ "domain": "global", "reason": "duplicate" }] }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let class_id = ObjectId::new();
    let event = class_event(&class_id);
    Mock::given(method("PUT"))
        .and(path(format!("{EVENTS_PATH}/{}", event.id)))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": event.id })))
        .expect(1)
        .mount(&server)
        .await;
    let token_url = format!("{}/oauth/token", server.uri());
    let client = calendar(&server, &[("GOOGLE_TOKEN_URL", &token_url)]);
    client.upsert_event(&event).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let put = requests
        .iter()
        .find(|r| r.method.as_str() == "PUT")
        .unwrap();
    assert_eq!(put.body_json::<Value>().unwrap(), event_json(&event));
}

#[tokio::test]
async fn calendar_fetches_a_new_token_after_a_401_and_retries_once() {
    let server = MockServer::start().await;
    let issued = mount_token_endpoint(&server, "/token").await;
    Mock::given(method("POST"))
        .and(path(EVENTS_PATH))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": { "code": 401, "message": "Invalid Credentials" }
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(EVENTS_PATH))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let client = calendar(&server, &[]);
    client
        .upsert_event(&class_event(&ObjectId::new()))
        .await
        .unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn calendar_gives_up_after_one_retry_and_reports_google_errors() {
    let server = MockServer::start().await;
    let issued = mount_token_endpoint(&server, "/token").await;
    Mock::given(method("POST"))
        .and(path(EVENTS_PATH))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(EVENTS_PATH))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(EVENTS_PATH))
        .and(header("authorization", "Bearer tok-3"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": { "code": 400, "message": "The specified time range is empty.",
                       "errors": [{ "domain": "calendar", "reason": "timeRangeEmpty" }] }
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(EVENTS_PATH))
        .and(header("authorization", "Bearer tok-3"))
        .respond_with(ResponseTemplate::new(503).set_body_string("backend error"))
        .mount(&server)
        .await;
    let client = calendar(&server, &[]);
    let event = class_event(&ObjectId::new());
    let events_calls = || async {
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == EVENTS_PATH)
            .count()
    };

    let e = client.upsert_event(&event).await.unwrap_err();
    assert!(
        matches!(e, IntegrationError::Refused { status: 401, .. }) && !e.is_retryable(),
        "{e:?}"
    );
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    assert_eq!(events_calls().await, 2);

    // The rejected tok-2 is not kept: the next call asks for tok-3 first.
    let e = client.upsert_event(&event).await.unwrap_err();
    match &e {
        IntegrationError::Refused { status, body, .. } => {
            assert_eq!(
                (*status, body.as_str()),
                (400, "The specified time range is empty.")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.is_retryable());
    assert_eq!(issued.load(Ordering::SeqCst), 3);
    assert_eq!(events_calls().await, 3);

    // A refusal does not spoil the token: tok-3 is used again, and a 503 is retryable.
    let e = client.upsert_event(&event).await.unwrap_err();
    assert!(retryable_refusal(&e, 503), "{e:?}");
    assert_eq!(issued.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn calendar_token_refusals_and_deletes() {
    let server = MockServer::start().await;
    let issued = mount_token_endpoint(&server, "/token").await;
    // An endpoint that wants another audience than its own URL rejects the assertion.
    let strict = mount_strict_token_endpoint(
        &server,
        "/strict",
        "https://oauth2.googleapis.com/token".into(),
    )
    .await;
    let strict_url = format!("{}/strict", server.uri());
    let refusing = calendar(&server, &[("GOOGLE_TOKEN_URL", &strict_url)]);
    let e = refusing
        .upsert_event(&class_event(&ObjectId::new()))
        .await
        .unwrap_err();
    match &e {
        IntegrationError::Refused { status, body, .. } => {
            assert_eq!(*status, 400);
            assert_eq!(body, "token exchange: invalid_grant: InvalidAudience");
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.is_retryable());
    assert_eq!(strict.load(Ordering::SeqCst), 0);

    let event_id = CalendarClient::event_id_for(&ObjectId::new());
    Mock::given(method("DELETE"))
        .and(path(format!("{EVENTS_PATH}/{event_id}")))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(204))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{EVENTS_PATH}/{event_id}")))
        .respond_with(ResponseTemplate::new(410))
        .mount(&server)
        .await;
    let client = calendar(&server, &[]);
    client.delete_event(&event_id).await.unwrap();
    // Already gone: still deleted.
    client.delete_event(&event_id).await.unwrap();
    assert_eq!(issued.load(Ordering::SeqCst), 1);
}

#[test]
fn calendar_settings_errors_name_the_variable_and_never_the_key() {
    let bad = |json: &str| {
        let e = CalendarClient::from_settings(&settings(&[
            ("GOOGLE_CALENDAR_ID", CALENDAR_ID),
            ("GOOGLE_SERVICE_ACCOUNT_JSON", json),
        ]))
        .unwrap_err();
        let shown = e.to_string();
        assert!(matches!(e, IntegrationError::BadConfig { .. }), "{e:?}");
        assert!(shown.contains("GOOGLE_SERVICE_ACCOUNT_JSON"), "{shown}");
        assert!(!shown.contains("MII"), "{shown}");
        shown
    };
    assert!(bad("{\"type\": \"service_account\",").contains("not valid JSON"));
    assert!(bad(&json!({ "client_email": CLIENT_EMAIL }).to_string()).contains("private_key"));
    let garbage_key = "-----BEGIN PRIVATE KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEA\n-----END PRIVATE KEY-----\n";
    bad(&json!({ "client_email": CLIENT_EMAIL, "private_key": garbage_key }).to_string());
    bad(&json!({ "client_email": CLIENT_EMAIL, "private_key": "not a key" }).to_string());
    assert!(bad("/nonexistent/service-account.json").contains("cannot read"));
    let oauth_client = json!({ "type": "authorized_user", "client_email": CLIENT_EMAIL, "private_key": PRIVATE_KEY });
    assert!(bad(&oauth_client.to_string()).contains("authorized_user"));
}

#[test]
fn calendar_reads_the_key_file_from_a_path_and_is_off_without_settings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("service-account.json");
    std::fs::write(
        &file,
        service_account_json("https://oauth2.googleapis.com/token"),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    assert!(CalendarClient::from_settings(&settings(&[
        ("GOOGLE_CALENDAR_ID", CALENDAR_ID),
        ("GOOGLE_SERVICE_ACCOUNT_JSON", path),
    ]))
    .unwrap()
    .is_some());
    assert!(
        CalendarClient::from_settings(&settings(&[("GOOGLE_SERVICE_ACCOUNT_JSON", path)]))
            .unwrap()
            .is_none()
    );
    assert!(
        CalendarClient::from_settings(&settings(&[("GOOGLE_CALENDAR_ID", CALENDAR_ID)]))
            .unwrap()
            .is_none()
    );
}

// --- doctor's credential checks ------------------------------------------------------------

/// `doctor` asks each configured provider whether it takes the credentials: the right
/// request with them, a refused key named as refused, a closed port as unreachable, and
/// nothing for a provider that is not configured.
#[tokio::test]
async fn each_provider_is_asked_whether_it_takes_its_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2010-04-01/Accounts/ACtest123.json"))
        .and(header("authorization", TWILIO_BASIC))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "sid": "ACtest123" })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/scopes"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({ "errors": [{ "message": "bad key" }] })),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/balance"))
        .and(header("authorization", "Bearer sk_test_key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "object": "balance" })))
        .mount(&server)
        .await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let uri = server.uri();
    let s = settings(&[
        ("TWILIO_ACCOUNT_SID", "ACtest123"),
        ("TWILIO_AUTH_TOKEN", "twilio-secret"),
        ("TWILIO_FROM", "+15550001111"),
        ("TWILIO_API_URL", &uri),
        ("SENDGRID_API_KEY", "SG.wrong"),
        ("EMAIL_FROM", "desk@studio.example"),
        ("SENDGRID_API_URL", &uri),
        ("STRIPE_SECRET_KEY", "sk_test_key"),
        ("STRIPE_API_URL", &uri),
        ("GOOGLE_CALENDAR_ID", CALENDAR_ID),
        (
            "GOOGLE_SERVICE_ACCOUNT_JSON",
            &service_account_json(&closed),
        ),
    ]);
    let providers = frontdesk::integrations::Providers::from_settings(
        &s,
        frontdesk::integrations::ChatRoutes::default(),
    )
    .unwrap();
    let checked: HashMap<&str, Result<(), IntegrationError>> =
        providers.check_credentials().await.into_iter().collect();
    assert!(checked["sms"].is_ok(), "{:?}", checked["sms"]);
    assert!(checked["payments"].is_ok(), "{:?}", checked["payments"]);
    assert!(
        matches!(
            checked["email"],
            Err(IntegrationError::Refused { status: 401, .. })
        ),
        "{:?}",
        checked["email"]
    );
    assert!(
        matches!(
            checked["calendar"],
            Err(IntegrationError::Unreachable { .. })
        ),
        "{:?}",
        checked["calendar"]
    );
    let none = frontdesk::integrations::Providers::from_settings(
        &settings(&[]),
        frontdesk::integrations::ChatRoutes::default(),
    )
    .unwrap();
    assert!(none.check_credentials().await.is_empty());
}
