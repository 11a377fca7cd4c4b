//! The dispatcher: sends queued messages to their subscribers, signed, with a timeout,
//! retries with backoff for about 3 days, and a log line per attempt. It runs beside the
//! HTTP server; the queue is in the database, so a restart (or kill -9) loses nothing — a
//! message being sent when the server died is due again once its lease ends.

use std::cell::Cell;
use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_tls::connect::{Resolve, Resolver};
use actix_web::web;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::outbox;
use super::queries::{self, Attempt, Claimed, MessageState, WebhookChanges};
use super::rules::{self, AfterFailure, AllowedHost};
use crate::audit::{self, Event, Writer};
use crate::db::{self, DbConn};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::types::now;

/// Most attempts on their way at once.
const IN_FLIGHT: usize = 64;

/// How often the clock's events (overdue, missing) are looked for.
const SCAN_EVERY: Duration = Duration::from_secs(60);

/// Starts the dispatcher on the current (actix) runtime.
pub fn start(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let client = http_client(&state.settings);
        let poll = Duration::from_millis(state.settings.webhook_poll_ms);
        let in_flight = Rc::new(Cell::new(0));
        let room_made = Rc::new(tokio::sync::Notify::new());
        let (outcomes, queue) = tokio::sync::mpsc::unbounded_channel();
        let settler = settle_outcomes(state.clone(), queue, in_flight.clone(), room_made.clone());
        actix_web::rt::spawn(settler);
        let mut next_scan = Instant::now();
        loop {
            if Instant::now() >= next_scan {
                next_scan = Instant::now() + SCAN_EVERY;
                if let Err(e) = produce_due_events(&state).await {
                    tracing::warn!(error = %e.detail_with_fields(), "webhook events of the clock not written");
                }
            }
            if in_flight.get() >= IN_FLIGHT {
                // Full: on as soon as attempts are settled.
                let _ = actix_web::rt::time::timeout(poll, room_made.notified()).await;
                continue;
            }
            match send_due(&state, &client, &in_flight, &outcomes).await {
                Ok(0) => actix_web::rt::time::sleep(poll).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e.detail_with_fields(), "webhook dispatch failed");
                    actix_web::rt::time::sleep(poll).await;
                }
            }
        }
    });
}

/// Writes the events that became due by the clock (see [`outbox::produce_due_events`]).
pub async fn produce_due_events(state: &AppState) -> ApiResult<usize> {
    let pool = state.pool.clone();
    web::block(move || outbox::produce_due_events(&pool, crate::types::local_today()))
        .await
        .map_err(crate::error::ApiError::internal)?
}

/// Takes the messages due now (one per subscription and resource, as many as there is room
/// for beside the attempts on their way) and starts an attempt for each, settled when its
/// answer comes: a slow receiver holds up only its own messages. Returns how many started.
async fn send_due(
    state: &web::Data<AppState>,
    client: &awc::Client,
    in_flight: &Rc<Cell<usize>>,
    outcomes: &UnboundedSender<Outcome>,
) -> ApiResult<usize> {
    let room = IN_FLIGHT.saturating_sub(in_flight.get());
    if room == 0 {
        return Ok(0);
    }
    let started = now();
    let timeout = Duration::from_millis(state.settings.webhook_timeout_ms);
    // Long enough for the attempt and its settling; a message whose sender died is due
    // again after it (and one on its way is not taken twice meanwhile).
    let lease = chrono::TimeDelta::from_std(timeout * 2 + Duration::from_secs(5))
        .unwrap_or(chrono::TimeDelta::minutes(1));
    let due = db::read(&state.pool, move |conn| {
        queries::due_messages(conn, started, i64::try_from(room).unwrap_or(1))
    })
    .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let claimed = db::write(&state.pool, move |conn| {
        let mut claimed = Vec::with_capacity(due.len());
        for id in due {
            if queries::claim(conn, id, started, started + lease)? {
                claimed.push(queries::claimed(conn, id)?);
            }
        }
        Ok(claimed)
    })
    .await?;
    let count = claimed.len();
    in_flight.set(in_flight.get() + count);
    for message in claimed {
        let (state, client, outcomes) = (state.clone(), client.clone(), outcomes.clone());
        actix_web::rt::spawn(async move {
            let answer = send(&client, &state.settings, &message, timeout).await;
            // The settler is gone only when the dispatcher is: the lease brings it back.
            let _ = outcomes.send(Outcome {
                message,
                answer,
                at: now(),
                jitter: rand::random(),
            });
        });
    }
    Ok(count)
}

/// An attempt's outcome, waiting to be written.
struct Outcome {
    message: Claimed,
    answer: Result<u16, String>,
    at: chrono::NaiveDateTime,
    jitter: f64,
}

/// Most outcomes written in one transaction.
const SETTLE_BATCH: usize = 256;

/// Writes the outcomes of attempts as they come, those that came together in one
/// transaction (one commit, one fsync on SQLite, for many deliveries).
async fn settle_outcomes(
    state: web::Data<AppState>,
    mut queue: UnboundedReceiver<Outcome>,
    in_flight: Rc<Cell<usize>>,
    room_made: Rc<tokio::sync::Notify>,
) {
    let first_retry = Duration::from_millis(state.settings.webhook_retry_ms);
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < SETTLE_BATCH {
            match queue.try_recv() {
                Ok(outcome) => batch.push(outcome),
                Err(_) => break,
            }
        }
        let settled = batch.len();
        let written = db::write(&state.pool, move |conn| {
            for o in batch {
                settle(conn, &o.message, o.answer, o.at, first_retry, o.jitter)?;
            }
            Ok(())
        })
        .await;
        if let Err(e) = written {
            // Their leases end and they are sent again: at least once, never lost.
            tracing::warn!(error = %e.detail_with_fields(), attempts = settled, "webhook attempts not recorded");
        }
        in_flight.set(in_flight.get().saturating_sub(settled));
        room_made.notify_one();
    }
}

/// One attempt: any 2xx acknowledges. An error is the answer's status, or why there was none.
async fn send(
    client: &awc::Client,
    settings: &crate::config::Settings,
    message: &Claimed,
    timeout: Duration,
) -> Result<u16, String> {
    // The list may have changed since the subscription was made: checked on every attempt.
    let target = rules::check_url(&message.webhook.url, &settings.webhook_allowed_hosts)
        .map_err(|why| format!("the URL {why}"))?;
    let timestamp = chrono::Utc::now().timestamp();
    let signature = rules::signature_header(
        &message.webhook.signing_secrets(now()),
        &message.event_id,
        timestamp,
        message.payload.as_bytes(),
    );
    let answer = client
        .post(target.url.as_str())
        .insert_header(("content-type", "application/json"))
        .insert_header((
            "user-agent",
            concat!("Pingyi-Webhooks/", env!("CARGO_PKG_VERSION")),
        ))
        .insert_header(("webhook-id", message.event_id.as_str()))
        .insert_header(("webhook-timestamp", timestamp.to_string()))
        .insert_header(("webhook-signature", signature))
        .timeout(timeout)
        .send_body(message.payload.clone())
        .await;
    match answer {
        Ok(mut response) => {
            // Read (a little of) the answer, so the connection goes back to the pool for the
            // next message instead of being closed.
            let _ = response.body().limit(64 * 1024).await;
            Ok(response.status().as_u16())
        }
        Err(awc::error::SendRequestError::Timeout) => Err("timed out".into()),
        Err(e) => Err(short(&e.to_string())),
    }
}

fn short(text: &str) -> String {
    text.chars().take(300).collect()
}

/// Logs an attempt and moves the message (and its subscription's failure record) on.
fn settle(
    conn: &mut DbConn,
    message: &Claimed,
    outcome: Result<u16, String>,
    at: chrono::NaiveDateTime,
    first_retry: Duration,
    jitter: f64,
) -> ApiResult<()> {
    // Deleted while the attempt ran: its queue and log went with it.
    let Some(webhook) = queries::find_opt(conn, message.webhook.id)? else {
        return Ok(());
    };
    let (status_code, error) = match &outcome {
        Ok(code) => (Some(i32::from(*code)), None),
        Err(why) => (None, Some(why.as_str())),
    };
    queries::log_attempt(
        conn,
        &Attempt {
            claimed: message,
            status_code,
            error,
            at,
        },
    )?;
    let attempts = message.attempts + 1;
    if matches!(outcome, Ok(code) if (200..300).contains(&code)) {
        queries::settle_message(
            conn,
            message.message_id,
            attempts,
            MessageState::DELIVERED,
            at,
            Some(at),
        )?;
        if webhook.failing_since.is_some() {
            let changes = WebhookChanges {
                failing_since: Some(None),
                ..Default::default()
            };
            queries::update(conn, webhook.id, &changes)?;
        }
        return Ok(());
    }
    let delay = rules::retry_delay(attempts.unsigned_abs(), first_retry, jitter);
    match rules::after_failure(message.created_at, at, delay) {
        AfterFailure::RetryAt(next) => queries::settle_message(
            conn,
            message.message_id,
            attempts,
            MessageState::PENDING,
            next,
            None,
        )?,
        AfterFailure::GiveUp => queries::settle_message(
            conn,
            message.message_id,
            attempts,
            MessageState::FAILED,
            at,
            Some(at),
        )?,
    }
    match webhook.failing_since {
        None => {
            let changes = WebhookChanges {
                failing_since: Some(Some(at)),
                ..Default::default()
            };
            queries::update(conn, webhook.id, &changes)?;
        }
        Some(since) if webhook.enabled && rules::endpoint_given_up(since, at) => {
            let changes = WebhookChanges {
                enabled: Some(false),
                disabled_reason: Some(Some(DISABLED_AFTER_FAILURES.into())),
                updated_at: Some(at),
                ..Default::default()
            };
            queries::update(conn, webhook.id, &changes)?;
            let summary = format!(
                "disabled the webhook to {}: {DISABLED_AFTER_FAILURES}",
                webhook.url
            );
            audit::record(
                conn,
                Writer::SYSTEM,
                Event::new(
                    "webhook.disable",
                    "webhook",
                    webhook.id,
                    Some(webhook.org_id),
                    summary,
                ),
            )?;
        }
        Some(_) => {}
    }
    Ok(())
}

const DISABLED_AFTER_FAILURES: &str = "every delivery failed for 3 days";

/// The client deliveries go out with: no redirects followed, a timeout on everything, and
/// a resolver that connects only to addresses the allow-list admits (checked on the
/// address actually connected to, so DNS cannot turn an allowed name into a forbidden one).
pub fn http_client(settings: &crate::config::Settings) -> awc::Client {
    let timeout = Duration::from_millis(settings.webhook_timeout_ms);
    let resolver = AllowListResolver {
        allowed: settings.webhook_allowed_hosts.clone().into(),
    };
    let tcp = actix_tls::connect::Connector::new(Resolver::custom(resolver)).service();
    let mut connector = awc::Connector::new().connector(tcp).timeout(timeout);
    if let Some(tls) = tls_connector() {
        connector = connector.openssl(tls);
    }
    awc::Client::builder()
        .connector(connector)
        .disable_redirects()
        .timeout(timeout)
        .finish()
}

/// TLS with the system's certificate authorities (the bundled OpenSSL does not know where
/// the system keeps them).
fn tls_connector() -> Option<actix_tls::connect::openssl::reexports::SslConnector> {
    use actix_tls::connect::openssl::reexports::{SslConnector, SslMethod};
    let mut builder = SslConnector::builder(SslMethod::tls()).ok()?;
    let found = openssl_probe::probe();
    if let Some(file) = &found.cert_file {
        if let Err(e) = builder.set_ca_file(file) {
            tracing::warn!(error = %e, file = %file.display(), "CA certificates not loaded");
        }
    }
    Some(builder.build())
}

struct AllowListResolver {
    allowed: Arc<[AllowedHost]>,
}

type Lookup<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, Box<dyn std::error::Error>>> + 'a>>;

impl Resolve for AllowListResolver {
    fn lookup<'a>(&'a self, host: &'a str, port: u16) -> Lookup<'a> {
        Box::pin(async move {
            let name = format!("{host}:{port}");
            let found: Vec<SocketAddr> =
                actix_web::rt::task::spawn_blocking(move || name.to_socket_addrs())
                    .await??
                    .collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| rules::address_allowed(host, a.ip(), &self.allowed))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to no address allowed for webhooks").into());
            }
            Ok(allowed)
        })
    }
}
