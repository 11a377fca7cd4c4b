//! The `pingyi` command: serve the API (default), migrate, print the OpenAPI document,
//! create an administrator, load the demo data set.

use std::net::TcpListener;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use pingyi::config::Settings;

#[derive(Parser)]
#[command(name = "pingyi", version, about = "Pingyi (评议): the mass-evaluation server", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (JSON) and exit.
    Openapi,
    /// Create an administrator. The password comes from PINGYI_NEW_ADMIN_PASSWORD, or a
    /// random one is printed once.
    CreateAdmin {
        /// The new administrator's username.
        username: String,
        #[arg(long, env = "PINGYI_NEW_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Load the demo data set (大连市委 down to a vocational college's branches, six
    /// domains, demo users per role) and print the demo logins. Refuses a database that
    /// already holds orgs or people (the demo passwords are published) unless --force;
    /// running it again with --force changes nothing.
    Demo {
        /// Load into a database that already holds data.
        #[arg(long)]
        force: bool,
    },
    /// Recompute a closed session's tallies from its ballots, say whether they agreed with
    /// the stored ones, and store the recomputed ones.
    Retally {
        /// The session's id.
        session_id: i64,
    },
    /// Import a CSV file of orgs or people as an administrator, with a progress bar. A file
    /// with any bad row writes nothing; its errors are printed by line.
    Import {
        /// What the file holds.
        #[arg(value_enum)]
        what: pingyi::imports::FileKind,
        /// The CSV file: UTF-8, with a header row (the same columns as the API's imports).
        file: std::path::PathBuf,
        /// Check every row and count what would change, writing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Ask a running server's /readyz (at PINGYI_BIND, or --url) and exit 0 when it is
    /// ready, 1 otherwise: the container health check.
    Healthcheck {
        /// The readiness URL (http only), e.g. http://127.0.0.1:8080/readyz.
        #[arg(long)]
        url: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("pingyi: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            print!("{}", pingyi::openapi::document_json());
            Ok(())
        }
        Command::Migrate => {
            pingyi::telemetry::init(&settings.log, settings.log_format)?;
            let mut conn = connect_once(&settings)?;
            let applied = pingyi::db::run_migrations(&mut conn).map_err(|e| e.to_string())?;
            println!(
                "{}: {} migration(s) applied",
                settings.database_url,
                applied.len()
            );
            Ok(())
        }
        Command::Serve => serve(settings),
        Command::CreateAdmin { username, password } => {
            let mut conn = migrated(&settings)?;
            let generated = password.is_none().then(|| pingyi::auth::random_token(12));
            let password = password.or(generated.clone()).unwrap_or_default();
            pingyi::auth::password::check_strength(&password)
                .map_err(|m| format!("the password {m}"))?;
            pingyi::db::write_transaction(&mut conn, |conn| {
                pingyi::users::create_admin(conn, &username, &password)
            })
            .map_err(|e| e.detail_with_fields())?;
            match generated {
                Some(password) => {
                    println!("Created administrator {username} with password: {password}")
                }
                None => println!("Created administrator {username}"),
            }
            Ok(())
        }
        Command::Retally { session_id } => {
            let mut conn = migrated(&settings)?;
            let agreed = pingyi::db::write_transaction(&mut conn, |conn| {
                pingyi::results::queries::retally(conn, session_id)
            })
            .map_err(|e| e.detail_with_fields())?;
            if agreed {
                println!("Session {session_id}: the stored tallies agree with its ballots.");
            } else {
                println!(
                    "Session {session_id}: the stored tallies differed from its ballots; replaced."
                );
            }
            Ok(())
        }
        Command::Import {
            what,
            file,
            dry_run,
        } => import(&settings, what, &file, dry_run),
        Command::Healthcheck { url } => {
            let url = url.unwrap_or_else(|| pingyi::ops::readiness_url(settings.bind));
            pingyi::ops::probe(&url, std::time::Duration::from_secs(3))
        }
        Command::Demo { force } => {
            let mut conn = migrated(&settings)?;
            pingyi::demo::ensure_empty(&mut conn, force).map_err(|e| e.detail_with_fields())?;
            pingyi::users::bootstrap_admin(&mut conn, settings.admin_password.as_deref())
                .map_err(|e| e.detail_with_fields())?
                .inspect(|password| {
                    println!("Created the administrator 'admin' with password: {password}")
                });
            let summary = pingyi::demo::load(&mut conn).map_err(|e| e.detail_with_fields())?;
            println!(
                "Demo loaded: {} new orgs, {} new people.",
                summary.orgs, summary.people
            );
            if summary.campaign {
                println!(
                    "A demo campaign with closed sessions: see GET /api/v1/campaigns, then its \
                     /results, /rankings and /coverage."
                );
            }
            println!("Demo logins (password, role, org):");
            for (username, password, role, org) in summary.logins {
                println!("  {username:<18} {password}  {:<12} {org}", role.as_str());
            }
            Ok(())
        }
    }
}

fn import(
    settings: &Settings,
    what: pingyi::imports::FileKind,
    file: &std::path::Path,
    dry_run: bool,
) -> Result<(), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {} as UTF-8 text: {e}", file.display()))?;
    let mut conn = migrated(settings)?;
    let admin = pingyi::users::queries::an_administrator(&mut conn)
        .map_err(|e| e.detail_with_fields())?
        .ok_or("no active administrator: start the server once, or run `pingyi create-admin`")?;
    let actor = pingyi::auth::Actor::administrator(admin, "command line");
    // Drawn on standard error, and only on a terminal.
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{wide_bar} {pos}/{len} rows, {eta} left")
            .map_err(|e| e.to_string())?,
    );
    let outcome = pingyi::imports::import_file(
        &mut conn,
        &actor,
        what,
        &text,
        dry_run,
        settings.import_max_rows,
        &|done, rows| {
            if done == 0 {
                bar.set_length(rows);
            }
            bar.set_position(done);
        },
    );
    bar.finish_and_clear();
    let report = outcome.map_err(|e| e.detail_with_fields())?;
    println!(
        "{}{} created, {} updated, {} unchanged",
        if dry_run {
            "dry run, nothing written: "
        } else {
            ""
        },
        report.created,
        report.updated,
        report.unchanged
    );
    Ok(())
}

/// One connection with every migration applied, for the one-shot commands.
fn migrated(settings: &Settings) -> Result<pingyi::db::DbConn, String> {
    let mut conn = connect_once(settings)?;
    pingyi::db::run_migrations(&mut conn).map_err(|e| e.to_string())?;
    Ok(conn)
}

fn connect_once(settings: &Settings) -> Result<pingyi::db::DbConn, String> {
    use diesel::r2d2::ManageConnection;
    pingyi::db::ConnectionManager::new(settings.database_url.clone())
        .connect()
        .map_err(|e| format!("cannot connect to {}: {e}", settings.database_url))
}

fn serve(settings: Settings) -> Result<(), String> {
    pingyi::telemetry::init(&settings.log, settings.log_format)?;
    let pool = pingyi::db::connect(&settings.database_url, &settings.pool_options())
        .map_err(|e| format!("cannot use the database {}: {e}", settings.database_url))?;
    let listener = TcpListener::bind(settings.bind)
        .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
    tracing::info!(
        bind = %settings.bind,
        database = %settings.database_url,
        "Pingyi serving; API docs at http://{}/docs",
        settings.bind
    );
    let metrics_listener = match settings.metrics_bind {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .map_err(|e| format!("cannot listen on {addr} (PINGYI_METRICS_BIND): {e}"))?;
            tracing::info!(bind = %addr, "metrics served at http://{addr}/metrics");
            Some(listener)
        }
        None => None,
    };
    let shared = pingyi::Shared::bootstrap(pool, settings)?;
    actix_web::rt::System::new()
        .block_on(async move {
            let api = pingyi::serve(listener, shared.clone())?;
            match metrics_listener {
                Some(listener) => {
                    let metrics = pingyi::startup::serve_metrics(listener, shared)?;
                    let metrics_handle = metrics.handle();
                    actix_web::rt::spawn(metrics);
                    let result = api.await;
                    metrics_handle.stop(true).await;
                    result
                }
                None => api.await,
            }
        })
        .map_err(|e| format!("server stopped: {e}"))
}
