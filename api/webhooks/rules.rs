//! Webhooks' pure rules: the event types, which hosts may receive them, secrets and
//! signatures (Standard Webhooks 1.0), and when to try a failed delivery again.

use std::net::IpAddr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{KeyInit, Mac};

use crate::config::Cidr;
use crate::text_enum;

text_enum! {
    /// What a subscriber can be told about.
    pub enum EventType {
        /// A session closed (its ballots counted).
        SessionClosed => "session.closed",
        /// A campaign's results were published (通报).
        CampaignPublished => "campaign.published",
        /// A rectification item was submitted for sign-off.
        RectificationSubmitted => "rectification.submitted",
        /// A rectification item was signed off by a superior.
        RectificationVerified => "rectification.verified",
        /// A rectification item passed its due date unverified.
        RectificationOverdue => "rectification.overdue",
        /// A child org had not answered a report request by its due date.
        ReportRequestMissing => "report_request.missing",
        /// A bad instant review (不满意, 非常不满意) opened a case.
        InstantCaseOpened => "instant_case.opened",
        /// A bad-review case passed its follow-up or resolution deadline.
        InstantCaseOverdue => "instant_case.overdue",
    }
}

/// Event types as stored: space separated, alphabetically, each once.
pub fn stored_events(events: &[EventType]) -> String {
    let mut names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(" ")
}

/// Event types back from storage (unknown words are skipped: an older server's list).
pub fn parse_events(stored: &str) -> Vec<EventType> {
    stored
        .split_whitespace()
        .filter_map(|e| e.parse().ok())
        .collect()
}

/// One entry of `PINGYI_WEBHOOK_ALLOWED_HOSTS`: an exact host name, or an address or network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHost {
    Name(String),
    Network(Cidr),
}

impl std::str::FromStr for AllowedHost {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(network) = s.parse::<Cidr>() {
            return Ok(AllowedHost::Network(network));
        }
        let is_name = !s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if is_name {
            Ok(AllowedHost::Name(s.to_ascii_lowercase()))
        } else {
            Err(format!(
                "{s:?} is neither a host name nor an address or CIDR (like hooks.example.org or 10.20.0.0/16)"
            ))
        }
    }
}

/// Where a subscription's deliveries go, as checked against the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: url::Url,
    /// The host as written in the URL, lowercase, without an IPv6 address's brackets.
    pub host: String,
}

/// Whether a URL may receive webhooks: absolute http(s), no user name or password, no
/// fragment, and a host on the list (a name exactly, an address inside a listed network).
pub fn check_url(raw: &str, allowed: &[AllowedHost]) -> Result<Target, String> {
    let url = url::Url::parse(raw.trim()).map_err(|_| "is not an absolute URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    let host = match url.host() {
        Some(url::Host::Domain(name)) => name.to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err("has no host".into()),
    };
    let listed = match host.parse::<IpAddr>() {
        Ok(ip) => in_listed_network(ip, allowed),
        Err(_) => allowed
            .iter()
            .any(|a| matches!(a, AllowedHost::Name(name) if *name == host)),
    };
    if !listed {
        return Err(if allowed.is_empty() {
            "cannot be used: no webhook host is allowed on this server (PINGYI_WEBHOOK_ALLOWED_HOSTS is empty)".to_owned()
        } else {
            format!("has a host ({host}) that is not in PINGYI_WEBHOOK_ALLOWED_HOSTS")
        });
    }
    Ok(Target { url, host })
}

fn in_listed_network(ip: IpAddr, allowed: &[AllowedHost]) -> bool {
    allowed
        .iter()
        .any(|a| matches!(a, AllowedHost::Network(net) if net.contains(ip)))
}

/// Whether an address a listed host name resolved to may be connected to, at send time.
/// Inside a listed network: yes. Otherwise the name must be listed, and the address must
/// not be one no receiver has (unspecified, multicast, broadcast) nor link-local, where
/// cloud metadata services answer: a name whose DNS turns to 169.254.169.254 is refused.
pub fn address_allowed(host: &str, ip: IpAddr, allowed: &[AllowedHost]) -> bool {
    if in_listed_network(ip, allowed) {
        return true;
    }
    let name_listed = allowed
        .iter()
        .any(|a| matches!(a, AllowedHost::Name(name) if name.eq_ignore_ascii_case(host)));
    name_listed && !never_by_name(ip)
}

fn never_by_name(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || v4.is_link_local()
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => never_by_name(IpAddr::V4(v4)),
            None => {
                v6.is_unspecified()
                    || v6.is_multicast()
                    // fe80::/10, link-local
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        },
    }
}

const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::fill(&mut key[..]);
    format!("{SECRET_PREFIX}{}", BASE64.encode(key))
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under one `whsec_` secret.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = BASE64
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .unwrap_or_else(|_| secret.as_bytes().to_vec());
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per secret that signs (two during a
/// rotation), space separated; a receiver accepts the message when any one verifies.
pub fn signature_header(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| signature(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// How long a message, and an endpoint, are tried before giving up (about 3 days).
pub const GIVE_UP_AFTER: chrono::TimeDelta = chrono::TimeDelta::days(3);

/// The longest wait between two attempts.
const LONGEST_WAIT: Duration = Duration::from_secs(6 * 3600);

/// The wait after the `attempts`-th failed attempt (1, 2, …): the first wait doubled each
/// time up to 6 hours, spread by ±20% (`jitter` in 0..1) so that the retries of many
/// messages to one recovering receiver do not arrive together.
pub fn retry_delay(attempts: u32, first: Duration, jitter: f64) -> Duration {
    let doubled = first.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
    doubled
        .min(LONGEST_WAIT)
        .mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

/// What to do with a message after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(chrono::NaiveDateTime),
    GiveUp,
}

/// Retry after the delay, unless that falls past the message's 3 days.
pub fn after_failure(
    created_at: chrono::NaiveDateTime,
    now: chrono::NaiveDateTime,
    delay: Duration,
) -> AfterFailure {
    let at = now + chrono::TimeDelta::from_std(delay).unwrap_or(GIVE_UP_AFTER);
    if at - created_at > GIVE_UP_AFTER {
        AfterFailure::GiveUp
    } else {
        AfterFailure::RetryAt(at)
    }
}

/// An endpoint that has failed every attempt for 3 days is disabled.
pub fn endpoint_given_up(failing_since: chrono::NaiveDateTime, now: chrono::NaiveDateTime) -> bool {
    now - failing_since >= GIVE_UP_AFTER
}

/// A new event's id (the `webhook-id` header): `msg_` and 128 random bits.
pub fn new_event_id() -> String {
    format!("msg_{}", crate::auth::random_token(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Vec<AllowedHost> {
        entries.iter().map(|e| e.parse().unwrap()).collect()
    }

    #[test]
    fn only_listed_hosts_and_networks_may_receive() {
        let allowed = list(&["hooks.example.org", "10.20.0.0/16", "127.0.0.1"]);
        assert!(check_url("https://hooks.example.org/pingyi", &allowed).is_ok());
        assert!(check_url("https://HOOKS.example.org:8443/x", &allowed).is_ok());
        assert!(check_url("http://10.20.3.4/x", &allowed).is_ok());
        assert!(check_url("http://127.0.0.1:9000/x", &allowed).is_ok());
        for refused in [
            "http://127.0.0.2/x",
            "http://evil.example.org/x",
            "http://hooks.example.org.evil.net/x",
            "ftp://hooks.example.org/x",
            "https://user:pw@hooks.example.org/x",
            "https://hooks.example.org/x#frag",
            "/relative",
            "http://[::1]/x",
            "http://2130706434/x",
        ] {
            assert!(check_url(refused, &allowed).is_err(), "{refused}");
        }
        // An integer host is an IPv4 address to the URL parser: 2130706433 is 127.0.0.1,
        // 2130706434 is 127.0.0.2.
        assert!(check_url("http://2130706433/x", &list(&["127.0.0.1"])).is_ok());
        assert!(check_url("http://a.b/x", &[])
            .unwrap_err()
            .contains("empty"));
    }

    #[test]
    fn a_listed_name_never_reaches_link_local_or_unspecified_addresses() {
        let allowed = list(&["hooks.example.org", "10.0.0.0/8"]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(address_allowed(
            "hooks.example.org",
            ip("203.0.113.5"),
            &allowed
        ));
        assert!(address_allowed(
            "HOOKS.example.org",
            ip("127.0.0.1"),
            &allowed
        ));
        assert!(!address_allowed(
            "hooks.example.org",
            ip("169.254.169.254"),
            &allowed
        ));
        assert!(!address_allowed(
            "hooks.example.org",
            ip("0.0.0.0"),
            &allowed
        ));
        assert!(!address_allowed(
            "hooks.example.org",
            ip("::ffff:169.254.1.1"),
            &allowed
        ));
        assert!(!address_allowed(
            "hooks.example.org",
            ip("fe80::1"),
            &allowed
        ));
        assert!(!address_allowed(
            "other.example.org",
            ip("203.0.113.5"),
            &allowed
        ));
        // A listed network is allowed whatever the name.
        assert!(address_allowed(
            "other.example.org",
            ip("10.1.2.3"),
            &allowed
        ));
    }

    #[test]
    fn allow_list_entries_are_names_or_networks() {
        assert_eq!(
            "Hooks.Example.org".parse::<AllowedHost>(),
            Ok(AllowedHost::Name("hooks.example.org".into()))
        );
        assert!(matches!(
            "10.0.0.0/8".parse::<AllowedHost>(),
            Ok(AllowedHost::Network(_))
        ));
        for bad in ["", "http://x", "a..b", "a b", "x/33"] {
            assert!(bad.parse::<AllowedHost>().is_err(), "{bad:?}");
        }
    }

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signatures_match_the_standard_webhooks_reference() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, id, 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let both = signature_header(&[secret, "whsec_AAAA"], id, 1614265330, body);
        assert!(both.starts_with("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,"));
    }

    #[test]
    fn secrets_are_random_and_prefixed() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with("whsec_") && a != b);
        assert_eq!(BASE64.decode(&a[6..]).unwrap().len(), 32);
    }

    #[test]
    fn retries_double_up_to_six_hours_with_jitter() {
        let first = Duration::from_secs(5);
        assert_eq!(retry_delay(1, first, 0.5), Duration::from_secs(5));
        assert_eq!(retry_delay(2, first, 0.5), Duration::from_secs(10));
        assert_eq!(retry_delay(4, first, 0.5), Duration::from_secs(40));
        assert_eq!(retry_delay(30, first, 0.5), LONGEST_WAIT);
        assert_eq!(retry_delay(1, first, 0.0), Duration::from_secs(4));
        assert_eq!(retry_delay(1, first, 1.0), Duration::from_secs(6));
    }

    #[test]
    fn messages_and_endpoints_give_up_after_three_days() {
        let t0 = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let hour = Duration::from_secs(3600);
        let day = chrono::TimeDelta::days(1);
        assert_eq!(
            after_failure(t0, t0 + day, hour),
            AfterFailure::RetryAt(t0 + day + chrono::TimeDelta::hours(1))
        );
        assert_eq!(
            after_failure(t0, t0 + day * 3 - chrono::TimeDelta::minutes(30), hour),
            AfterFailure::GiveUp
        );
        assert!(!endpoint_given_up(t0, t0 + day * 2));
        assert!(endpoint_given_up(t0, t0 + day * 3));
    }

    #[test]
    fn events_are_stored_once_each_in_order() {
        use EventType::*;
        let stored = stored_events(&[SessionClosed, CampaignPublished, SessionClosed]);
        assert_eq!(stored, "campaign.published session.closed");
        assert_eq!(
            parse_events(&stored),
            vec![CampaignPublished, SessionClosed]
        );
        assert_eq!(parse_events("session.closed no.such"), vec![SessionClosed]);
    }
}
