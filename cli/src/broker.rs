//! `durian broker`: runs a broker in the foreground.
//!
//! Contract with scripts and interop tests: once the listener is bound,
//! exactly one line `listening on HOST:PORT` goes to stdout (with the real
//! port when `--listen` used port 0) for the primary (first) listener;
//! with `--listeners`, one `listener NAME://HOST:PORT` line per listener
//! follows, then with `--metrics-listen` one `metrics on HOST:PORT` line
//! (the bound address of `GET /metrics`). All logging goes to stderr.
//!
//! Security: `--listeners` (Kafka syntax) replaces `--listen`; without it,
//! the single listener on `--listen` becomes SSL when `--ssl-cert` is given
//! and SASL when SASL users are, so `--listen` + a users file gives a
//! SASL_PLAINTEXT broker. A listener that does not authenticate clients
//! must bind a loopback address unless `--allow-insecure-listener` is given.

use std::io::Write;
use std::path::PathBuf;

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use durian_broker::{
    parse_listeners, read_plain_users, read_server_properties, Broker, BrokerBuilder, BrokerError,
    ClientAuth, FlushPolicy, Principal, ScramMechanism, UnsecuredJwtValidator,
};

/// Options of `durian broker`.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Address to bind; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub listen: String,
    /// host:port announced to clients (default: the bound address).
    #[arg(long)]
    pub advertised_listener: Option<String>,
    /// Serve Prometheus metrics at `http://HOST:PORT/metrics` (off unless
    /// given; port 0 picks a free port). Not authenticated: bind an
    /// address only those allowed to see the metrics can reach.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_listen: Option<String>,
    /// Where topics, logs and group offsets live (default: a temporary
    /// directory deleted on exit).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// This broker's node id (default 0).
    #[arg(long)]
    pub node_id: Option<i32>,
    /// Partitions of auto-created topics (default 1).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Do not create unknown topics on first use.
    #[arg(long)]
    pub no_auto_create: bool,
    /// When appends reach the disk (default: never, Kafka's page cache).
    #[arg(long, value_enum)]
    pub fsync: Option<Fsync>,
    /// A Kafka `server.properties` file of broker settings (limits, log
    /// defaults; docs/BROKER.md lists the names durian knows). The other
    /// options win over it.
    #[arg(long = "config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// One broker setting by its `server.properties` name, e.g.
    /// `--set max.connections=200` (repeatable; wins over --config, loses
    /// to the dedicated options).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    pub settings: Vec<(String, String)>,
    /// Listener and authentication settings.
    #[command(flatten)]
    pub security: SecurityArgs,
    /// A principal allowed everything whatever the ACLs say
    /// (`super.users`; repeatable), e.g. `User:admin`.
    #[arg(long = "super-user", value_name = "PRINCIPAL", value_parser = Principal::parse)]
    pub super_users: Vec<Principal>,
    /// Refuse resources no ACL names (`allow.everyone.if.no.acl.found=false`),
    /// also when no listener authenticates (the default once one does).
    /// Clients of unauthenticated listeners are `User:ANONYMOUS`.
    #[arg(long, conflicts_with = "allow_everyone_if_no_acl")]
    pub deny_if_no_acl: bool,
    /// Open resources no ACL names to every principal
    /// (`allow.everyone.if.no.acl.found=true`), also once a listener
    /// authenticates (where the default is to refuse them).
    #[arg(long)]
    pub allow_everyone_if_no_acl: bool,
}

/// Listeners, TLS and SASL options of `durian broker`.
#[derive(Debug, Args)]
pub struct SecurityArgs {
    /// Named listeners, Kafka's `listeners` (e.g.
    /// `PLAINTEXT://127.0.0.1:9092,SASL_SSL://0.0.0.0:9094`); replaces --listen.
    #[arg(long)]
    pub listeners: Option<String>,
    /// Kafka's `advertised.listeners` (e.g. `SASL_SSL://kafka.example.com:9094`).
    #[arg(long, requires = "listeners")]
    pub advertised_listeners: Option<String>,
    /// Kafka's `listener.security.protocol.map` for listener names that are
    /// not protocol names (e.g. `INTERNAL:SASL_PLAINTEXT`).
    #[arg(long, requires = "listeners")]
    pub listener_security_protocol_map: Option<String>,
    /// PEM certificate chain of SSL/SASL_SSL listeners (leaf first).
    #[arg(long, requires = "ssl_key")]
    pub ssl_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, RSA or EC) of --ssl-cert.
    #[arg(long, requires = "ssl_cert")]
    pub ssl_key: Option<PathBuf>,
    /// PEM CA certificates client certificates must chain to.
    #[arg(long)]
    pub ssl_ca: Option<PathBuf>,
    /// Kafka's `ssl.client.auth`: none, requested or required (needs --ssl-ca).
    #[arg(long, default_value = "none", requires = "ssl_cert")]
    pub ssl_client_auth: String,
    /// Kafka's `sasl.enabled.mechanisms`, comma-separated (default: PLAIN,
    /// SCRAM-SHA-256, SCRAM-SHA-512, plus OAUTHBEARER with
    /// --sasl-oauthbearer-unsecured-jwt).
    #[arg(long)]
    pub sasl_enabled_mechanisms: Option<String>,
    /// PLAIN users: a JAAS file's `user_NAME="PASSWORD"` entries, or
    /// `name=password` lines.
    #[arg(long)]
    pub sasl_plain_users_file: Option<PathBuf>,
    /// SCRAM users (same format): each gets SCRAM-SHA-256 and -512
    /// credentials, stored salted in the data dir at start.
    #[arg(long)]
    pub sasl_scram_users_file: Option<PathBuf>,
    /// Accept Kafka's unsecured (unsigned) OAUTHBEARER JWTs. INSECURE:
    /// anyone can mint them; for tests only.
    #[arg(long)]
    pub sasl_oauthbearer_unsecured_jwt: bool,
    /// Kafka's `connections.max.reauth.ms`: SASL sessions end after this
    /// long unless the client re-authenticates (0: never).
    #[arg(long, default_value_t = 0)]
    pub connections_max_reauth_ms: u64,
    /// Time a client has for the TLS handshake and SASL authentication.
    #[arg(long, default_value_t = 10_000)]
    pub auth_timeout_ms: u64,
    /// Let a listener that does not authenticate clients (PLAINTEXT, or SSL
    /// without required client certificates) bind a non-loopback address.
    /// INSECURE: anyone who reaches it can read, write and delete every topic.
    #[arg(long)]
    pub allow_insecure_listener: bool,
}

impl SecurityArgs {
    /// Applies the options to `builder`.
    fn apply(self, mut builder: BrokerBuilder) -> Result<BrokerBuilder, BrokerError> {
        let config = |e: &dyn std::fmt::Display| BrokerError::Config(e.to_string());
        if let Some(listeners) = &self.listeners {
            let parsed = parse_listeners(
                listeners,
                self.advertised_listeners.as_deref(),
                self.listener_security_protocol_map.as_deref(),
            )
            .map_err(|e| config(&e))?;
            builder = builder.listeners(parsed);
        }
        if let (Some(cert), Some(key)) = (self.ssl_cert, self.ssl_key) {
            builder = builder.tls(cert, key);
            let auth: ClientAuth = self.ssl_client_auth.parse().map_err(|e| config(&e))?;
            match (auth, self.ssl_ca) {
                (ClientAuth::None, _) => {}
                (auth, Some(ca)) => builder = builder.ssl_client_auth(auth, ca),
                (_, None) => {
                    return Err(BrokerError::Config(
                        "--ssl-client-auth requested/required needs --ssl-ca".to_string(),
                    ))
                }
            }
        }
        if let Some(path) = &self.sasl_plain_users_file {
            for (user, password) in read_plain_users(path).map_err(|e| config(&e))? {
                builder = builder.sasl_plain_user(user, password);
            }
        }
        if let Some(path) = &self.sasl_scram_users_file {
            for (user, password) in read_plain_users(path).map_err(|e| config(&e))? {
                for mechanism in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
                    builder = builder.sasl_scram_user(mechanism, user.clone(), password.clone());
                }
            }
        }
        if self.sasl_oauthbearer_unsecured_jwt {
            tracing::warn!("accepting unsecured OAUTHBEARER JWTs: anyone can mint them");
            builder = builder.sasl_oauthbearer(Arc::new(UnsecuredJwtValidator::default()));
        }
        if let Some(mechanisms) = &self.sasl_enabled_mechanisms {
            builder = builder.sasl_mechanisms(
                mechanisms
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_ascii_uppercase),
            );
        }
        if self.connections_max_reauth_ms > 0 {
            builder = builder
                .connections_max_reauth(Duration::from_millis(self.connections_max_reauth_ms));
        }
        Ok(builder
            .handshake_timeout(Duration::from_millis(self.auth_timeout_ms))
            .allow_insecure_listener(self.allow_insecure_listener))
    }
}

/// The `--fsync` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Fsync {
    /// fsync every append before acknowledging it.
    Always,
    /// Leave appends in the page cache (Kafka's default).
    Never,
}

/// Runs the broker until Ctrl-C or SIGTERM, then shuts it down cleanly.
pub async fn run(args: BrokerArgs) -> Result<(), BrokerError> {
    // Installed before the address is announced: whoever reads the
    // `listening on` line may send SIGTERM right away.
    let stop = StopSignal::install();
    let mut builder = Broker::builder();
    if let Some(path) = &args.config_file {
        builder = builder.properties(read_server_properties(path)?)?;
    }
    builder = builder
        .properties(args.settings)?
        .listen(args.listen)
        .super_users(args.super_users);
    if let Some(node_id) = args.node_id {
        builder = builder.node_id(node_id);
    }
    if let Some(partitions) = args.partitions {
        builder = builder.default_partitions(partitions);
    }
    if args.no_auto_create {
        builder = builder.auto_create_topics(false);
    }
    if let Some(fsync) = args.fsync {
        builder = builder.fsync(match fsync {
            Fsync::Always => FlushPolicy::Always,
            Fsync::Never => FlushPolicy::PageCache,
        });
    }
    if args.deny_if_no_acl {
        builder = builder.allow_everyone_if_no_acl_found(false);
    } else if args.allow_everyone_if_no_acl {
        builder = builder.allow_everyone_if_no_acl_found(true);
    }
    builder = match args.data_dir {
        Some(dir) => builder.data_dir(dir),
        None => builder.temporary(),
    };
    if let Some(advertised) = args.advertised_listener {
        builder = builder.advertised_listener(advertised);
    }
    if let Some(metrics) = args.metrics_listen {
        builder = builder.metrics_listen(metrics);
    }
    let named_listeners = args.security.listeners.is_some();
    let builder = args.security.apply(builder)?;
    let broker = builder.start().await?;
    if broker.is_temporary() {
        tracing::warn!(data_dir = %broker.data_dir().display(),
            "no --data-dir given: using a temporary directory, deleted on exit");
    }
    let mut stdout = std::io::stdout().lock();
    // A closed stdout must not stop the broker; the address is also logged.
    let _ = writeln!(stdout, "listening on {}", broker.local_addr());
    if named_listeners {
        for (name, address) in broker.listeners() {
            let _ = writeln!(stdout, "listener {name}://{address}");
        }
    }
    if let Some(metrics) = broker.metrics_addr() {
        let _ = writeln!(stdout, "metrics on {metrics}");
    }
    let _ = stdout.flush();
    drop(stdout);
    tracing::info!(bootstrap = %broker.bootstrap(), "broker ready");
    stop.wait().await;
    tracing::info!("stop signal received; shutting down");
    broker.shutdown().await
}

/// `KEY=VALUE` of `--set`.
fn parse_setting(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!("expected KEY=VALUE, found {text:?}")),
    }
}

/// Ctrl-C (SIGINT) or SIGTERM, listened for from the moment it is installed.
struct StopSignal {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignal {
    fn install() -> StopSignal {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signals = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .map_err(|e| tracing::warn!(error = %e, "cannot install signal handlers; falling back to Ctrl-C only"))
                .ok();
            StopSignal { signals }
        }
        #[cfg(not(unix))]
        StopSignal {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut terminate, mut interrupt)) = self.signals {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
