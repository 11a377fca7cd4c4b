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
    }
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
    let shared = pingyi::Shared::bootstrap(pool, settings)?;
    actix_web::rt::System::new()
        .block_on(async move { pingyi::serve(listener, shared)?.await })
        .map_err(|e| format!("server stopped: {e}"))
}
