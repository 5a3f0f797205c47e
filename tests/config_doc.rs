//! docs/CONFIG.md is generated here from the code, and this test fails
//! when the file no longer matches what the code says.
//!
//! ```text
//! CLIENT_PROPERTIES, PRODUCER_PROPERTIES,      ┐
//! CONSUMER_PROPERTIES, ADMIN_PROPERTIES         ├─▶ render_config_doc() ─▶ == docs/CONFIG.md ?
//! BrokerConfig::new, GroupConfig::default,      │                            (DURIAN_BLESS=1 rewrites it)
//! TxnConfig::default,                           │
//! describe_topic_configs(LogConfig::default())  ┘
//! ```
//!
//! Client properties come with their meaning from the crates' doc tables.
//! The broker has no such table, so its settings are read field by field
//! from `BrokerConfig`, `GroupConfig` and `TxnConfig` (destructured without `..`, so a
//! new field breaks this file's build until it is documented here), and the
//! topic configs come from what the broker's DescribeConfigs reports, with
//! their meaning kept below; a topic config the broker gains without a
//! meaning here fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use durian::broker::testing::reference::{describe_topic_configs, validate_topic_config};
use durian::broker::{Broker, BrokerConfig, FlushPolicy, GroupConfig, LogConfig, TxnConfig};
use durian::core::config::{PropertyDoc, CLIENT_PROPERTIES};

const DOC_PATH: &str = "docs/CONFIG.md";

/// What each topic config the broker accepts means; values the broker
/// refuses are named, and `restricted_topic_configs_match_the_prose` checks
/// those claims.
const TOPIC_CONFIG_MEANINGS: &[(&str, &str)] = &[
    ("cleanup.policy", "How old data goes away: `delete` (by retention), `compact` (the log cleaner keeps the latest record per key; retention deletes nothing) or `compact,delete` (both). Compacted topics refuse records without a key (INVALID_RECORD)."),
    ("delete.retention.ms", "On compacted topics, a tombstone (null value) is kept until its segment's newest record is this old, so readers see the delete."),
    ("min.cleanable.dirty.ratio", "On compacted topics, the cleaner runs once the not yet cleaned part of the sealed segments reaches this share of them (0 to 1)."),
    ("min.compaction.lag.ms", "On compacted topics, segments holding a record younger than this are not cleaned yet."),
    ("max.compaction.lag.ms", "On compacted topics, a segment this old is cleaned whatever the dirty ratio; the default never forces it."),
    ("compression.type", "Only `producer`: batches are stored exactly as the producer compressed them."),
    ("retention.ms", "Whole segments whose newest record is older than this are deleted; -1 keeps them forever."),
    ("retention.bytes", "The oldest segments are deleted while a partition is larger than this; -1 means no size limit."),
    ("segment.bytes", "A partition rolls to a new segment file once the active one would grow past this size. A partition's records in one Produce larger than this are refused (RECORD_LIST_TOO_LARGE), as Kafka does: keep the producer's `batch.size` below it."),
    ("segment.ms", "A partition rolls to a new segment once the active one's first batch is this old."),
    ("segment.index.bytes", "Largest size of a segment's offset or time index; a full index rolls the segment."),
    ("index.interval.bytes", "An index entry is added after at least this many bytes of batches; smaller means faster lookups and bigger indexes."),
    ("max.message.bytes", "Largest record batch (after compression) the broker accepts; larger ones are refused with MESSAGE_TOO_LARGE. At most the broker's `socket.request.max.bytes`; a larger value is refused with INVALID_CONFIG."),
    ("message.timestamp.type", "`CreateTime` keeps the producer's timestamps, `LogAppendTime` stamps batches with the broker's clock."),
    ("flush.messages", "1 fsyncs every append before acknowledging it; N fsyncs once N records are unflushed; the default leaves appends in the page cache until a segment rolls or the broker stops (durian keeps one copy: a power loss can lose the unflushed tail)."),
    ("flush.ms", "fsync once the oldest unflushed append is this old (checked at appends and every minute); the default never does."),
    ("min.insync.replicas", "Only 1: a single broker is the only replica, so it is always in sync."),
];

/// The topic configs whose accepted values the prose above restricts:
/// (name, an accepted value, a refused value).
const RESTRICTED_TOPIC_CONFIGS: &[(&str, &str, &str)] = &[
    ("cleanup.policy", "compact,delete", "remove"),
    ("compression.type", "producer", "zstd"),
    ("min.insync.replicas", "1", "2"),
];

#[test]
fn config_doc_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC_PATH);
    let rendered = render_config_doc();
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == rendered {
        return;
    }
    if std::env::var_os("DURIAN_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let first_difference = current
        .lines()
        .zip(rendered.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| current.lines().count().min(rendered.lines().count()));
    panic!(
        "{DOC_PATH} is stale: it differs from what the code documents, from line {} on \
         (file: {:?}, code: {:?}).\nRegenerate it with: DURIAN_BLESS=1 cargo test --test config_doc",
        first_difference + 1,
        current.lines().nth(first_difference).unwrap_or("<end of file>"),
        rendered.lines().nth(first_difference).unwrap_or("<end of file>"),
    );
}

#[test]
fn every_topic_config_has_a_meaning_and_no_meaning_is_orphaned() {
    let described: Vec<String> = topic_config_defaults().into_keys().collect();
    for name in &described {
        assert!(
            TOPIC_CONFIG_MEANINGS.iter().any(|(n, _)| n == name),
            "the broker accepts topic config {name} but tests/config_doc.rs has no meaning for it"
        );
    }
    for (name, _) in TOPIC_CONFIG_MEANINGS {
        assert!(
            described.iter().any(|n| n == name),
            "tests/config_doc.rs describes {name}, which the broker does not accept"
        );
    }
}

#[test]
fn restricted_topic_configs_match_the_prose() {
    for (name, accepted, refused) in RESTRICTED_TOPIC_CONFIGS {
        assert!(
            validate_topic_config(name, accepted).is_ok(),
            "{name}={accepted}"
        );
        assert!(
            validate_topic_config(name, refused).is_err(),
            "{name}={refused}"
        );
    }
}

#[test]
fn client_tables_have_unique_names_and_meanings() {
    for (section, table) in client_sections() {
        let mut names = std::collections::BTreeSet::new();
        for property in table {
            assert!(
                names.insert(property.name),
                "{section}: {} twice",
                property.name
            );
            assert!(
                !property.doc.trim().is_empty(),
                "{section}: {} undocumented",
                property.name
            );
        }
    }
}

/// The whole of docs/CONFIG.md.
fn render_config_doc() -> String {
    let mut out = String::new();
    out.push_str(
        "# Configuration reference\n\n\
         <!-- Generated by tests/config_doc.rs from the code; do not edit by hand.\n     \
         Change the doc tables in the code, then run: DURIAN_BLESS=1 cargo test --test config_doc -->\n\n\
         Every setting durian's clients and broker accept, with its default and meaning. \
         Clients take properties by their Kafka names (`from_properties`, `-X key=value` on the \
         `durian` command) as well as through typed builders; an unknown or misspelt property is \
         an error when the client is built, never silently ignored.\n\n",
    );
    for (section, table) in client_sections() {
        let _ = writeln!(out, "## {section}\n");
        property_table(&mut out, table);
    }
    broker_settings(&mut out);
    group_settings(&mut out);
    txn_settings(&mut out);
    topic_configs(&mut out);
    out
}

fn client_sections() -> [(&'static str, &'static [PropertyDoc]); 4] {
    [
        ("Every client (durian-core)", CLIENT_PROPERTIES),
        (
            "Producer (durian-producer)",
            durian::producer::PRODUCER_PROPERTIES,
        ),
        (
            "Consumer (durian-consumer)",
            durian::consumer::CONSUMER_PROPERTIES,
        ),
        (
            "Admin client (durian-admin)",
            durian::admin::ADMIN_PROPERTIES,
        ),
    ]
}

fn property_table(out: &mut String, table: &[PropertyDoc]) {
    out.push_str("| property | default | meaning |\n| --- | --- | --- |\n");
    for property in table {
        let default = if property.default.is_empty() {
            "(none)".to_owned()
        } else {
            format!("`{}`", property.default)
        };
        let _ = writeln!(
            out,
            "| `{}` | {default} | {} |",
            property.name,
            cell(property.doc)
        );
    }
    out.push('\n');
}

/// One row of a broker table: Kafka's name for the setting, how to set it
/// on durian's broker, its default, what it does.
struct BrokerRow {
    name: &'static str,
    set_by: &'static str,
    default: String,
    meaning: &'static str,
}

fn broker_settings(out: &mut String) {
    let BrokerConfig {
        node_id,
        cluster_id,
        listen,
        advertised_listener,
        data_dir: _,
        default_partitions,
        auto_create_topics,
        log_config,
        socket_request_max_bytes,
        queued_max_request_bytes,
        max_connections,
        connections_max_idle,
        retention_check_interval,
        shutdown_grace,
        max_decompressed_batch_bytes,
        decompression_budget_bytes,
        decompression_wait,
        request_body_timeout,
        max_connections_per_ip,
        response_write_timeout,
        queued_max_response_bytes,
        max_auto_create_topics_per_request,
        max_auto_created_topics,
        fetch_session_cache_slots,
        listeners,
        tls,
        sasl,
        allow_insecure_listener,
        authorizer,
    } = BrokerConfig::new(PathBuf::from("unused"));
    let LogConfig {
        max_message_bytes,
        flush,
        ..
    } = log_config;
    let rows = [
        BrokerRow { name: "node.id", set_by: "`.node_id(n)`, `--node-id`", default: node_id.to_string(), meaning: "This broker's id in Metadata responses." },
        BrokerRow { name: "cluster id", set_by: "`.cluster_id(id)`", default: cluster_id.map_or_else(|| "(the stored one, else random)".to_owned(), |id| id.to_string()), meaning: "Reported in Metadata and DescribeCluster; made up once and kept in the data directory unless set." },
        BrokerRow { name: "listeners", set_by: "`.listen(addr)`, `--listen`", default: listen, meaning: "Address to bind; port 0 picks a free port (the handle and `durian broker`'s first line tell which)." },
        BrokerRow { name: "advertised.listeners", set_by: "`.advertised_listener(host:port)`, `--advertised-listener`", default: advertised_listener.unwrap_or_else(|| "(the bound address)".to_owned()), meaning: "The address clients are told to connect to." },
        BrokerRow { name: "listeners (named)", set_by: "`.listeners(vec)`, `.add_listener(protocol, addr)`, `--listeners`", default: if listeners.is_empty() { "(one listener on --listen)".to_owned() } else { format!("{listeners:?}") }, meaning: "Kafka's `NAME://host:port` list; replaces `listen`. Each client is told the advertised address of the listener it connected on (docs/SECURITY.md)." },
        BrokerRow { name: "listener.security.protocol.map", set_by: "`ListenerConfig::protocol`, `--listener-security-protocol-map`", default: "(a listener's name is its protocol)".to_owned(), meaning: "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL for listener names that are not protocol names." },
        BrokerRow { name: "ssl.keystore.location", set_by: "`.tls(cert_pem, key_pem)`, `--ssl-cert`, `--ssl-key`", default: tls.map_or_else(|| "(none)".to_owned(), |t| format!("{t:?}")), meaning: "PEM certificate chain and private key of SSL and SASL_SSL listeners; with them the default listener uses TLS." },
        BrokerRow { name: "ssl.client.auth", set_by: "`.ssl_client_auth(ClientAuth, ca_pem)`, `--ssl-client-auth`, `--ssl-ca`", default: "none".to_owned(), meaning: "Ask TLS clients for certificates (requested, required); the principal is `User:<subject DN>`." },
        BrokerRow { name: "sasl.enabled.mechanisms", set_by: "`.sasl_mechanisms(list)`, `--sasl-enabled-mechanisms`", default: sasl.mechanisms().join(","), meaning: "SASL mechanisms clients may choose (OAUTHBEARER is added with a token validator). Users: `.sasl_plain_user`, `.sasl_scram_user`, `--sasl-plain-users-file`, `--sasl-scram-users-file`; with any, the default listener uses SASL." },
        BrokerRow { name: "connections.max.reauth.ms", set_by: "`.connections_max_reauth(duration)`, `--connections-max-reauth-ms`", default: sasl.max_reauth.map_or_else(|| "0 (never)".to_owned(), millis), meaning: "SASL sessions end after this long unless the client re-authenticates; the next request of an expired session closes the connection." },
        BrokerRow { name: "(durian) authentication deadline", set_by: "`.handshake_timeout(duration)`, `--auth-timeout-ms`", default: millis(sasl.handshake_timeout), meaning: "Time a client has for the TLS handshake and for SASL authentication before its connection is closed." },
        BrokerRow { name: "(durian) allow insecure listener", set_by: "`.allow_insecure_listener(bool)`, `--allow-insecure-listener`", default: allow_insecure_listener.to_string(), meaning: "Whether a listener that does not authenticate clients (PLAINTEXT, SSL without required client certificates) may bind a non-loopback address; refused at start otherwise." },
        BrokerRow { name: "log.dirs", set_by: "`.data_dir(path)` or `.temporary()`, `--data-dir`", default: "(required; `durian broker` uses a temporary directory)".to_owned(), meaning: "Where partitions, the topic catalog and group offsets are stored; a restart on the same directory keeps them." },
        BrokerRow { name: "num.partitions", set_by: "`.default_partitions(n)`, `--partitions`", default: default_partitions.to_string(), meaning: "Partitions of auto-created topics and of CreateTopics asking for the default (-1)." },
        BrokerRow { name: "auto.create.topics.enable", set_by: "`.auto_create_topics(bool)`, `--no-auto-create`", default: auto_create_topics.to_string(), meaning: "Whether a Metadata request that allows it creates unknown topics. durian's clients never ask for it." },
        BrokerRow { name: "(durian) auto-created topics per request", set_by: "`.max_auto_create_topics_per_request(n)`", default: max_auto_create_topics_per_request.to_string(), meaning: "Most topics one Metadata or Produce request may auto-create; further unknown topics get UNKNOWN_TOPIC_OR_PARTITION." },
        BrokerRow { name: "(durian) auto-creation topic cap", set_by: "`.max_auto_created_topics(n)`", default: max_auto_created_topics.to_string(), meaning: "Auto-creation stops once the broker holds this many topics; CreateTopics is not limited." },
        BrokerRow { name: "max.incremental.fetch.session.cache.slots", set_by: "`.fetch_session_cache_slots(n)`, `--set max.incremental.fetch.session.cache.slots=n`", default: fetch_session_cache_slots.to_string(), meaning: "Most fetch sessions (KIP-227) held at once; when full, a new session evicts one idle for 2 minutes, else a smaller one, else it is not created. 0 answers every fetch in full." },
        BrokerRow { name: "message.max.bytes", set_by: "`.message_max_bytes(n)`", default: max_message_bytes.to_string(), meaning: "Default of the topic config `max.message.bytes`." },
        BrokerRow { name: "log.flush.interval.messages", set_by: "`.fsync(FlushPolicy)`, `--fsync always|never`", default: flush_name(flush).to_owned(), meaning: "Default of the topic config `flush.messages`: fsync every append, or leave appends to the page cache." },
        BrokerRow { name: "socket.request.max.bytes", set_by: "`.socket_request_max_bytes(n)`", default: socket_request_max_bytes.to_string(), meaning: "Largest request frame; a larger size prefix closes the connection before anything is allocated." },
        BrokerRow { name: "queued.max.request.bytes", set_by: "`.queued_max_request_bytes(n)`", default: queued_max_request_bytes.to_string(), meaning: "Request bytes read but not yet handled, over all connections, charged as the bytes arrive; reading pauses at the limit." },
        BrokerRow { name: "max.connections", set_by: "`.max_connections(n)`", default: max_connections.to_string(), meaning: "Most client connections at once; more are closed on accept." },
        BrokerRow { name: "max.connections.per.ip", set_by: "`.max_connections_per_ip(n)`", default: max_connections_per_ip.to_string(), meaning: "Most connections from one address; more are closed on accept. Kafka's default is unlimited; half of max.connections keeps one host from taking every slot." },
        BrokerRow { name: "connections.max.idle.ms", set_by: "`.connections_max_idle(duration)`", default: millis(connections_max_idle), meaning: "A connection that sends nothing for this long is closed." },
        BrokerRow { name: "(durian) request body timeout", set_by: "`.request_body_timeout(duration)`", default: millis(request_body_timeout), meaning: "Once a request's first byte has arrived, the rest must arrive within this long or the connection is closed." },
        BrokerRow { name: "(durian) response write timeout", set_by: "`.response_write_timeout(duration)`", default: millis(response_write_timeout), meaning: "A response not fully written within this long (a client that stopped reading) closes the connection." },
        BrokerRow { name: "(durian) queued response bytes", set_by: "`.queued_max_response_bytes(n)`", default: queued_max_response_bytes.to_string(), meaning: "Response bytes built but not yet written, over all connections; a response that cannot get room within the write timeout closes its connection. Responses of at most 64 KiB never wait for it." },
        BrokerRow { name: "(durian) max decompressed batch bytes", set_by: "`.max_decompressed_batch_bytes(n)`", default: max_decompressed_batch_bytes.to_string(), meaning: "Most bytes one produced batch may decompress to while its records are checked; a larger one is refused with CORRUPT_MESSAGE. No topic setting scales it." },
        BrokerRow { name: "(durian) decompression budget bytes", set_by: "`.decompression_budget_bytes(n)`", default: decompression_budget_bytes.to_string(), meaning: "Decompression memory shared by every produced batch being checked at once." },
        BrokerRow { name: "(durian) decompression wait", set_by: "`.decompression_wait(duration)`", default: millis(decompression_wait), meaning: "How long a compressed batch waits for decompression budget before it is refused with REQUEST_TIMED_OUT (retriable)." },
        BrokerRow { name: "log.retention.check.interval.ms", set_by: "`.retention_check_interval(duration)`", default: millis(retention_check_interval), meaning: "How often retention deletes expired segments." },
        BrokerRow { name: "super.users", set_by: "`.super_users([Principal])`, `--super-user`", default: if authorizer.super_users.is_empty() { "(none)".to_owned() } else { authorizer.super_users.iter().map(ToString::to_string).collect::<Vec<_>>().join(";") }, meaning: "Principals allowed every operation whatever the ACLs say." },
        BrokerRow { name: "allow.everyone.if.no.acl.found", set_by: "`.allow_everyone_if_no_acl_found(bool)`, `--deny-if-no-acl`, `--allow-everyone-if-no-acl`", default: match authorizer.allow_everyone_if_no_acl_found { Some(allow) => allow.to_string(), None => "true without authentication, false once a listener authenticates".to_owned() }, meaning: "Whether a resource no ACL names is open to every principal. True keeps a broker without authentication working with no ACLs; once a listener authenticates (SASL, or SSL requiring client certificates) only ACLs grant access, as with Kafka's authorizers (docs/SECURITY.md)." },
        BrokerRow { name: "shutdown grace", set_by: "`.config(BrokerConfig { shutdown_grace, .. })`", default: millis(shutdown_grace), meaning: "How long shutdown waits for requests in flight before closing connections." },
    ];
    out.push_str(
        "## Broker (durian-broker, `durian broker`)\n\n\
         Set through `Broker::builder()` when embedding, or the flags of `durian broker`. \
         The names are Kafka's equivalents; durian's broker does not read a properties file.\n\n",
    );
    broker_table(out, &rows);
}

fn group_settings(out: &mut String) {
    let GroupConfig {
        initial_rebalance_delay,
        min_session_timeout,
        max_session_timeout,
        offsets_retention,
        offsets_retention_check_interval,
        offset_metadata_max_bytes,
        fsync_offset_log,
        offset_log_compaction_min_dead,
        consumer_protocol,
        consumer_heartbeat_interval,
        consumer_session_timeout,
        consumer_max_size,
    } = GroupConfig::default();
    let set_by = "`.group_config(GroupConfig { .. })`";
    let rows = [
        BrokerRow { name: "group.initial.rebalance.delay.ms", set_by, default: millis(initial_rebalance_delay), meaning: "How long an empty group waits for more members before its first rebalance completes; each arrival extends the wait, up to the rebalance timeout." },
        BrokerRow { name: "group.min.session.timeout.ms", set_by, default: millis(min_session_timeout), meaning: "Smaller session timeouts are refused with INVALID_SESSION_TIMEOUT." },
        BrokerRow { name: "group.max.session.timeout.ms", set_by, default: millis(max_session_timeout), meaning: "Larger session timeouts are refused with INVALID_SESSION_TIMEOUT." },
        BrokerRow { name: "offsets.retention.minutes", set_by, default: format!("{} min", offsets_retention.as_secs() / 60), meaning: "Committed offsets of a group with no members are removed this long after both the commit and the group becoming empty." },
        BrokerRow { name: "offsets.retention.check.interval.ms", set_by, default: millis(offsets_retention_check_interval), meaning: "How often expired offsets and empty groups are swept away." },
        BrokerRow { name: "offset.metadata.max.bytes", set_by, default: offset_metadata_max_bytes.to_string(), meaning: "Longer commit metadata is refused with OFFSET_METADATA_TOO_LARGE." },
        BrokerRow { name: "(durian) offset log fsync", set_by, default: fsync_offset_log.to_string(), meaning: "Whether each offset commit is fsynced before it is acknowledged." },
        BrokerRow { name: "(durian) offset log compaction", set_by, default: offset_log_compaction_min_dead.to_string(), meaning: "The offset log is rewritten to its live records once it holds at least this many superseded ones, and more superseded than live." },
        BrokerRow { name: "group.coordinator.rebalance.protocols", set_by, default: if consumer_protocol { "classic,consumer" } else { "classic" }.to_owned(), meaning: "With `consumer`, the KIP-848 consumer group protocol (ConsumerGroupHeartbeat, ConsumerGroupDescribe) is served and advertised." },
        BrokerRow { name: "group.consumer.heartbeat.interval.ms", set_by, default: millis(consumer_heartbeat_interval), meaning: "The heartbeat interval consumer-protocol members are told to keep." },
        BrokerRow { name: "group.consumer.session.timeout.ms", set_by, default: millis(consumer_session_timeout), meaning: "A consumer-protocol member that has not heartbeat for this long is removed and its partitions reassigned." },
        BrokerRow { name: "group.consumer.max.size", set_by, default: consumer_max_size.to_string(), meaning: "Joining a consumer-protocol group of this many members is refused with GROUP_MAX_SIZE_REACHED." },
    ];
    out.push_str("### Group coordinator\n\n");
    broker_table(out, &rows);
}

fn txn_settings(out: &mut String) {
    let TxnConfig {
        max_timeout,
        abort_check_interval,
        id_expiration,
        fsync,
        compaction_min_dead,
    } = TxnConfig::default();
    let set_by = "`.txn_config(TxnConfig { .. })`";
    let rows = [
        BrokerRow { name: "transaction.max.timeout.ms", set_by, default: millis(max_timeout), meaning: "Longer `transaction.timeout.ms` in InitProducerId is refused with INVALID_TRANSACTION_TIMEOUT." },
        BrokerRow { name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", set_by, default: millis(abort_check_interval), meaning: "How often transactions open longer than their timeout are aborted (their producer fenced), prepared ones finished and idle transactional ids expired." },
        BrokerRow { name: "transactional.id.expiration.ms", set_by, default: millis(id_expiration), meaning: "A transactional id without an open transaction and without a state change for this long is removed; its producer gets a new producer id when it returns." },
        BrokerRow { name: "(durian) transaction log fsync", set_by, default: fsync.to_string(), meaning: "Whether each transaction state change is fsynced before it is answered." },
        BrokerRow { name: "(durian) transaction log compaction", set_by, default: compaction_min_dead.to_string(), meaning: "The transaction log is rewritten to its live records once it holds at least this many superseded ones, and more superseded than live." },
    ];
    out.push_str("### Transaction coordinator\n\n");
    broker_table(out, &rows);
}

fn broker_table(out: &mut String, rows: &[BrokerRow]) {
    out.push_str("| setting | set with | default | meaning |\n| --- | --- | --- | --- |\n");
    for row in rows {
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` | {} |",
            row.name,
            row.set_by,
            row.default,
            cell(row.meaning)
        );
    }
    out.push('\n');
}

fn topic_configs(out: &mut String) {
    out.push_str(
        "## Topic configs\n\n\
         What durian's broker accepts in CreateTopics, IncrementalAlterConfigs and \
         `durian topic create -c` / `alter-config --set`; anything else is refused with \
         INVALID_CONFIG naming the setting. Defaults are the broker's log settings \
         (`Broker::builder().log_config(..)`), shown for a default broker.\n\n\
         | config | default | meaning |\n| --- | --- | --- |\n",
    );
    for (name, default) in topic_config_defaults() {
        let meaning = TOPIC_CONFIG_MEANINGS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("(undocumented)", |(_, m)| m);
        let _ = writeln!(out, "| `{name}` | `{default}` | {} |", cell(meaning));
    }
}

/// Name → default of every topic config, as DescribeConfigs reports them.
fn topic_config_defaults() -> BTreeMap<String, String> {
    describe_topic_configs(&LogConfig::default(), &BTreeMap::new())
        .into_iter()
        .map(|entry| (entry.name, entry.value))
        .collect()
}

fn flush_name(policy: FlushPolicy) -> &'static str {
    match policy {
        FlushPolicy::Always => "always",
        FlushPolicy::PageCache => "never",
    }
}

fn millis(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

/// Text made safe for a Markdown table cell.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// The builder methods named in the broker table exist with these shapes;
/// renaming one breaks this build, so the table cannot keep a stale name.
#[test]
fn named_builder_methods_exist() {
    let _ = Broker::builder()
        .node_id(0)
        .cluster_id("c")
        .listen("127.0.0.1:0")
        .advertised_listener("h:1")
        .data_dir("d")
        .temporary()
        .default_partitions(1)
        .auto_create_topics(true)
        .message_max_bytes(1)
        .fsync(FlushPolicy::Always)
        .socket_request_max_bytes(1)
        .queued_max_request_bytes(1)
        .max_connections(1)
        .connections_max_idle(Duration::ZERO)
        .retention_check_interval(Duration::ZERO)
        .log_config(LogConfig::default())
        .group_config(GroupConfig::default())
        .listeners(Vec::new())
        .tls("cert.pem", "key.pem")
        .sasl_mechanisms(["PLAIN"])
        .connections_max_reauth(Duration::ZERO)
        .handshake_timeout(Duration::ZERO)
        .allow_insecure_listener(false);
}
