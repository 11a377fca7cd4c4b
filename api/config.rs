//! Settings, read from the command line or the environment (the environment is how
//! deployments set them; `pingyi --help` lists each one).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::db::{DatabaseUrl, PoolOptions, Synchronous, WriteTuning};

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Database: sqlite://<file path> (embedded; the folder is created) or postgres://user@host/db.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/pingyi.db",
        global = true
    )]
    pub database_url: DatabaseUrl,

    /// Address and port to serve on.
    #[arg(
        long,
        env = "PINGYI_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,

    /// Secret that signs access tokens (at least 32 characters). Required with PostgreSQL;
    /// with SQLite one is generated and kept in `jwt-secret` beside the database file.
    #[arg(long, env = "PINGYI_JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,

    /// Password for the `admin` user created on the first start of an empty database;
    /// without it a random password is generated and printed once.
    #[arg(
        long,
        env = "PINGYI_ADMIN_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub admin_password: Option<String>,

    /// Log filter in tracing's EnvFilter syntax, e.g. `info` or `pingyi=debug,info`.
    #[arg(long, env = "PINGYI_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format: human-readable lines or one JSON object per line.
    #[arg(
        long,
        env = "PINGYI_LOG_FORMAT",
        value_enum,
        default_value = "human",
        global = true
    )]
    pub log_format: LogFormat,

    /// Comma-separated origins allowed by CORS, e.g. `https://pingyi.example.cn`. Empty: none.
    #[arg(
        long,
        env = "PINGYI_CORS_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_origins: Vec<String>,

    /// Secret that keys the hashes of voting codes (32+ characters). Defaults to the JWT
    /// secret; set it separately so that rotating the token secret keeps issued codes valid.
    #[arg(
        long,
        env = "PINGYI_CODE_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub code_secret: Option<String>,

    /// The address voters reach this service at, for the links in QR codes
    /// (default: http://<PINGYI_BIND>).
    #[arg(long, env = "PINGYI_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Largest accepted JSON request body, in bytes.
    #[arg(long, env = "PINGYI_BODY_LIMIT", default_value_t = 1024 * 1024, global = true)]
    pub body_limit: usize,

    /// Largest CSV file an import accepts, in bytes (a city's roster is tens of megabytes).
    #[arg(long, env = "PINGYI_IMPORT_LIMIT", default_value_t = crate::http::ImportLimit::DEFAULT, global = true)]
    pub import_limit: usize,

    /// Database connections in the pool.
    #[arg(long, env = "PINGYI_DB_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=512), global = true)]
    pub db_pool_size: u32,

    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "PINGYI_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// Address of a separate listener serving Prometheus `/metrics` (e.g. 127.0.0.1:9090).
    /// Off by default; the API listener never serves metrics without PINGYI_METRICS_TOKEN.
    #[arg(long, env = "PINGYI_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,

    /// Bearer token that opens `/metrics` on the API listener too (32+ random characters).
    #[arg(
        long,
        env = "PINGYI_METRICS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub metrics_token: Option<String>,

    /// Most rows one CSV import may hold.
    #[arg(long, env = "PINGYI_IMPORT_MAX_ROWS", default_value_t = Settings::default_import_max_rows(), global = true)]
    pub import_max_rows: usize,
    /// Reverse proxies (CIDRs, comma separated: `10.0.0.0/8,127.0.0.1`) whose
    /// `X-Forwarded-For` / `Forwarded` headers are believed; the client is the rightmost hop
    /// that is not one of them. Empty: the TCP peer is the client.
    #[arg(
        long,
        env = "PINGYI_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<Cidr>,

    /// SQLite only: `full` syncs the log on every commit (an acknowledged write survives a
    /// power cut); `normal` syncs at checkpoints (faster, survives only a crash).
    #[arg(
        long,
        env = "PINGYI_SQLITE_SYNCHRONOUS",
        value_enum,
        default_value = "full",
        global = true
    )]
    pub sqlite_synchronous: Synchronous,

    /// Group commit: most ballots committed together in one transaction.
    #[arg(long, env = "PINGYI_COMMIT_BATCH", default_value_t = WriteTuning::default().batch_size, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000), global = true)]
    pub commit_batch: usize,

    /// Group commit: ballots that may wait for a writer; past it a ballot is answered 503
    /// with `Retry-After`.
    #[arg(long, env = "PINGYI_COMMIT_QUEUE", default_value_t = WriteTuning::default().queue_capacity, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000), global = true)]
    pub commit_queue: usize,

    /// SQLite only: page cache of each database connection, in MiB (an upper bound, filled as
    /// pages are read). The writer needs room for every page a batch of ballots changes.
    #[arg(long, env = "PINGYI_SQLITE_CACHE_MIB", default_value_t = WriteTuning::default().cache_mib, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=16_384), global = true)]
    pub sqlite_cache_mib: usize,

    /// PostgreSQL only: connections that commit waiting ballots together, each batch in one
    /// transaction (0: each ballot is its own transaction on the pool).
    #[arg(long, env = "PINGYI_PG_WRITERS", default_value_t = crate::db::DEFAULT_POSTGRES_WRITERS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=64), global = true)]
    pub postgres_writers: usize,

    /// Hosts webhooks may be sent to (comma separated): exact host names, or addresses and
    /// CIDRs (`hooks.example.gov.cn,10.20.0.0/16`). Checked when a subscription is made and
    /// again on the address connected to at every attempt. Empty: no subscription can be made.
    #[arg(
        long,
        env = "PINGYI_WEBHOOK_ALLOWED_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub webhook_allowed_hosts: Vec<crate::webhooks::AllowedHost>,

    /// How long one webhook attempt may take, connecting included, in milliseconds.
    #[arg(long, env = "PINGYI_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=120_000), global = true)]
    pub webhook_timeout_ms: u64,

    /// The wait before a failed webhook's first retry, in milliseconds; each next wait
    /// doubles (±20%) up to 6 hours, for about 3 days.
    #[arg(long, env = "PINGYI_WEBHOOK_RETRY_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(10..=3_600_000), global = true)]
    pub webhook_retry_ms: u64,

    /// How often the webhook dispatcher looks for due messages when idle, in milliseconds.
    #[arg(long, env = "PINGYI_WEBHOOK_POLL_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=60_000), global = true)]
    pub webhook_poll_ms: u64,
}

/// An IP network: an address and a prefix length (a bare address is the /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: std::net::IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        let ip = match ip {
            V6(v6) => v6.to_ipv4_mapped().map_or(V6(v6), V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (V4(net), V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (V6(net), V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a CIDR (like 10.0.0.0/8 or ::1)");
        let (addr, prefix) = s
            .trim()
            .split_once('/')
            .map_or((s.trim(), None), |(a, p)| (a, Some(p)));
        let network: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { network, prefix })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

impl Settings {
    /// The default of `PINGYI_IMPORT_MAX_ROWS`.
    pub fn default_import_max_rows() -> usize {
        1_000_000
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
    }

    pub fn pool_options(&self) -> PoolOptions {
        PoolOptions {
            max_size: self.db_pool_size,
            connection_timeout: Duration::from_secs(10),
            writes: WriteTuning {
                synchronous: self.sqlite_synchronous,
                batch_size: self.commit_batch,
                queue_capacity: self.commit_queue,
                cache_mib: self.sqlite_cache_mib,
            },
            postgres_writers: self.postgres_writers,
        }
    }

    /// The secret that signs tokens: the setting, or for SQLite a generated one kept beside
    /// the database file so that restarts keep sessions valid.
    pub fn resolve_jwt_secret(&self) -> Result<String, String> {
        if let Some(secret) = &self.jwt_secret {
            check_secret("PINGYI_JWT_SECRET", secret)?;
            return Ok(secret.clone());
        }
        match &self.database_url {
            DatabaseUrl::Postgres(_) => Err(
                "PINGYI_JWT_SECRET is required with PostgreSQL (at least 32 random characters)"
                    .into(),
            ),
            DatabaseUrl::Sqlite(db) => {
                let path = db.parent().unwrap_or(Path::new(".")).join("jwt-secret");
                load_or_create_secret(&path)
            }
        }
    }
}

/// Words that mark a secret copied from an example rather than generated.
const PLACEHOLDER_WORDS: [&str; 12] = [
    "change",
    "example",
    "placeholder",
    "replace",
    "secret",
    "password",
    "default",
    "todo",
    "xxxx",
    "1234",
    "abcd",
    "pingyi",
];

/// The least estimated entropy (bits) of a configured secret: 32 random hexadecimal
/// characters (16 bytes) pass, a repeated word does not.
const MIN_SECRET_BITS: f64 = 100.0;

/// Refuses a configured secret that is short, a placeholder, or too low in entropy.
pub fn check_secret(name: &str, secret: &str) -> Result<(), String> {
    if secret.chars().count() < 32 {
        return Err(format!("{name} must be at least 32 characters long"));
    }
    let lower = secret.to_lowercase();
    if let Some(word) = PLACEHOLDER_WORDS.iter().find(|w| lower.contains(*w)) {
        return Err(format!(
            "{name} looks like a placeholder (it contains {word:?}); generate one, e.g. \
             `head -c 32 /dev/urandom | base64`"
        ));
    }
    let distinct = secret
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len();
    if distinct < 10 || is_repetition(secret) || estimated_bits(secret) < MIN_SECRET_BITS {
        return Err(format!(
            "{name} is too low in entropy (repeated characters or words); generate one, e.g. \
             `head -c 32 /dev/urandom | base64`"
        ));
    }
    Ok(())
}

/// Whether the secret is a shorter string repeated (`abcabcabc…`, `change-me-change-me-…`).
fn is_repetition(secret: &str) -> bool {
    let chars: Vec<char> = secret.chars().collect();
    (1..=chars.len() / 2).any(|period| (period..chars.len()).all(|i| chars[i] == chars[i - period]))
}

/// The Shannon entropy of the secret's characters times its length: an upper bound of its
/// real entropy, enough to catch repetition.
fn estimated_bits(secret: &str) -> f64 {
    let mut counts = std::collections::HashMap::<char, usize>::new();
    for c in secret.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let n = secret.chars().count() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

fn load_or_create_secret(path: &Path) -> Result<String, String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            return Ok(existing);
        }
    }
    let secret = crate::auth::random_token(32);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    write_private(path, &secret).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_and_low_entropy_secrets_are_refused() {
        for bad in [
            "change-me-change-me-change-me-change-me",
            "short",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "qwerty-qwerty-qwerty-qwerty-qwerty-qwerty",
            "my-jwt-secret-for-production-use-only!!",
        ] {
            assert!(check_secret("S", bad).is_err(), "{bad}");
        }
        for good in [
            "Hk3vR9qZ2mT8wX5nB1cF7jL4pD6sG0aY",
            "6f1c0e9a2b7d48e3a5c4b1f09d8e7a62",
            "q1J0r8cN5T0kq3m2pQh0Zc4iVb7XwE1yR2tA9sD6fG8=",
        ] {
            assert!(check_secret("S", good).is_ok(), "{good}");
        }
    }

    #[test]
    fn generated_secret_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt-secret");
        let first = load_or_create_secret(&path).unwrap();
        assert!(first.len() >= 32);
        assert_eq!(load_or_create_secret(&path).unwrap(), first);
    }
}
