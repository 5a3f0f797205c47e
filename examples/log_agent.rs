//! The log-shipping agent as library code: follow an access log and ship
//! each line to the `web_log` topic, exactly once across restarts.
//!
//! ```text
//! cargo run --example log_agent                       # self-contained demo
//! cargo run --example log_agent -- --brokers HOST:PORT --file /var/log/nginx/access.log [--topic web_log]
//! ```
//!
//! Without arguments it starts the embedded broker in a temporary
//! directory, creates `web_log`, writes a fake access log that grows and
//! is rotated twice while the agent ships it, then reads the topic back and
//! prints what arrived. With `--brokers` and `--file` it ships that file
//! until Ctrl-C (the topic must exist).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use durian::admin::{Admin, NewTopic};
use durian::broker::Broker;
use durian::consumer::{Consumer, OffsetReset, TopicPartition};
use durian::ship::{ShipConfig, Shipper};

type AnyResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const LINES_PER_FILE: usize = 400;
const FILES: usize = 3;

#[tokio::main]
async fn main() -> AnyResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    match (flag("--brokers"), flag("--file")) {
        (Some(brokers), Some(file)) => {
            let topic = flag("--topic").unwrap_or_else(|| "web_log".to_owned());
            ship_real_file(&brokers, PathBuf::from(file), &topic).await
        }
        (None, None) => demo().await,
        _ => Err("give both --brokers and --file, or neither for the demo".into()),
    }
}

async fn ship_real_file(brokers: &str, file: PathBuf, topic: &str) -> AnyResult<()> {
    let shipper = Shipper::new(ShipConfig::new(file, topic).bootstrap_servers(brokers))?;
    let progress = shipper
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    println!(
        "shipped {} lines; checkpoint written",
        progress.lines_shipped
    );
    Ok(())
}

async fn demo() -> AnyResult<()> {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await?;
    let bootstrap = broker.bootstrap();
    let admin = Admin::builder()
        .bootstrap_servers([bootstrap.clone()])
        .connect()
        .await?;
    for (_, created) in admin.create_topics([NewTopic::new("web_log", 3)]).await {
        created?;
    }
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("access.log");
    println!("broker on {bootstrap}; shipping {}", log.display());

    let shipper = Shipper::new(
        ShipConfig::new(&log, "web_log")
            .bootstrap_servers(bootstrap.clone())
            .poll_interval(Duration::from_millis(20)),
    )?;
    let mut progress = shipper.progress();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(shipper.run(async {
        let _ = stopped.await;
    }));

    // The web server appends lines; logrotate renames the file twice. It
    // waits for the agent to catch up before each rotation: a file renamed
    // away before the agent ever opened it would be missed (docs/SHIP.md).
    for file in 0..FILES {
        write_access_log(&log, file).await?;
        let written = ((file + 1) * LINES_PER_FILE) as u64;
        progress.wait_for(|p| p.lines_shipped >= written).await?;
        if file + 1 < FILES {
            std::fs::rename(
                &log,
                dir.path().join(format!("access.log.{}", FILES - 1 - file)),
            )?;
        }
    }
    let total = (LINES_PER_FILE * FILES) as u64;
    let _ = stop.send(());
    let done = agent.await??;
    println!(
        "agent stopped: {} lines shipped to partition {}, checkpoint at file generation {} byte {}",
        done.lines_shipped, done.partition, done.generation, done.position
    );

    print_topic(&bootstrap, done.partition, total).await?;
    broker.shutdown().await?;
    Ok(())
}

/// Writes one file's worth of lines in small bursts, as a busy server would.
async fn write_access_log(path: &Path, file: usize) -> AnyResult<()> {
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for i in 0..LINES_PER_FILE {
        let n = file * LINES_PER_FILE + i;
        writeln!(
            out,
            "10.1.{}.{} - - [23/Nov/2026:12:{:02}:{:02} +0000] \"GET /shop/item/{n} HTTP/1.1\" 200 {}",
            n / 250 % 250, n % 250, n / 60 % 60, n % 60, 300 + n % 700
        )?;
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(())
}

/// Reads the partition back and prints the first and last lines per file.
async fn print_topic(bootstrap: &str, partition: i32, total: u64) -> AnyResult<()> {
    let mut consumer = Consumer::builder()
        .bootstrap_servers([bootstrap.to_owned()])
        .auto_offset_reset(OffsetReset::Earliest)
        .build()?;
    consumer.assign([TopicPartition::new("web_log", partition)])?;
    let mut per_file: Vec<(String, usize, String, String)> = Vec::new();
    let mut read = 0;
    while read < total {
        for record in consumer.poll(Duration::from_millis(200)).await?.iter() {
            read += 1;
            // The header the agent adds names the file generation, the
            // file and the line's byte range.
            let generation = durian::ship::record::line_of(record)
                .map(|line| line.generation.to_string())
                .unwrap_or_default();
            let text =
                String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
            match per_file.last_mut() {
                Some(last) if last.0 == generation => {
                    last.1 += 1;
                    last.3 = text;
                }
                _ => per_file.push((generation, 1, text.clone(), text)),
            }
        }
    }
    for (generation, count, first, last) in per_file {
        println!("file generation {generation}: {count} lines\n  first: {first}\n  last:  {last}");
    }
    Ok(())
}
