//! Runs every scenario for every client, each in a child process of this
//! binary, against one broker; with `--kafka` again against Apache Kafka's
//! broker; then durian's broker against Tansu.
//!
//! Scenarios are the outer loop and clients the inner one, so slow drift of
//! the shared machine spreads over all clients instead of hitting one.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::brokers::{self, BrokerUnderTest};
use crate::clients::{ClientKind, Scenario, WorkerSpec};
use crate::fileload::{self, FileSetup};
use crate::measure::Measurement;
use crate::metrics::{BrokerMetric, ClientMetric};
use crate::report::RunFigures;
use crate::security::Security;
use crate::topics;

/// Record counts and durations of one run.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// 100 B records per produce/consume run.
    pub small_records: u64,
    /// 10 KB records per large produce run.
    pub large_records: u64,
    /// Size of a large record.
    pub large_size: usize,
    /// Latency run length.
    pub latency_secs: u64,
    /// Latency run rate, records/s.
    pub latency_rate: u64,
}

impl Scale {
    /// The figures.
    pub const FULL: Scale = Scale {
        small_records: 1_000_000,
        large_records: 100_000,
        large_size: 10_000,
        latency_secs: 30,
        latency_rate: 20_000,
    };
    /// Small enough that all clients and both brokers finish in under 3 minutes.
    pub const QUICK: Scale = Scale {
        small_records: 200_000,
        large_records: 10_000,
        large_size: 10_000,
        latency_secs: 5,
        latency_rate: 20_000,
    };
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Clients to compare.
    pub clients: Vec<ClientKind>,
    /// Counts.
    pub scale: Scale,
    /// Use this broker instead of starting durian's.
    pub brokers: Option<String>,
    /// Skip the durian-broker-vs-Tansu part.
    pub skip_tansu: bool,
    /// Count allocations in the workers.
    pub count_allocs: bool,
    /// Partitions per topic.
    pub partitions: i32,
    /// The listener the clients use on durian's broker.
    pub security: Security,
    /// Run every client's scenarios against Apache Kafka's broker too.
    pub kafka: bool,
    /// The whole-process file → topic scenario, when it runs.
    pub file: Option<FileSetup>,
    /// Run only the "at each client's defaults" scenario (and the file
    /// scenario unless skipped): for tuning experiments.
    pub defaults_only: bool,
    /// Run only the 10 KB produce scenario (after the loopback baseline).
    pub large_only: bool,
    /// Run each library produce measurement once unmeasured first.
    pub warm_up: bool,
}

const WORKER_TIMEOUT: Duration = Duration::from_secs(900);

/// Produce-and-consume rounds each broker gets before a `--kafka` run's
/// measurements. Kafka's broker needs more than one: warmed by one round,
/// its consume of 5M records took 1.15–1.32 s; after eight, 0.78–1.03 s
/// (docs/PERFORMANCE.md, "What 16 KiB batches cost"). Three is a
/// compromise with the run's length, not a measured optimum.
const BROKER_WARM_UP_ROUNDS: usize = 3;

/// Runs one worker process and returns its measurement.
async fn worker(spec: &WorkerSpec, count_allocs: bool) -> Result<Measurement, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own binary: {e}"))?;
    let mut command = Command::new(exe);
    command.arg("worker").args(spec.to_args());
    if count_allocs {
        command.arg("--count-allocs");
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start worker: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("worker has no stdout")?;
    let mut text = String::new();
    let outcome = tokio::time::timeout(WORKER_TIMEOUT, async {
        stdout.read_to_string(&mut text).await?;
        child.wait().await
    })
    .await;
    let what = format!("{} {:?} on {}", spec.client, spec.scenario, spec.topic);
    match outcome {
        Err(_) => {
            return Err(format!(
                "{what}: worker still running after {WORKER_TIMEOUT:?}"
            ))
        }
        Ok(Err(e)) => return Err(format!("{what}: {e}")),
        Ok(Ok(status)) if !status.success() => {
            return Err(format!("{what}: worker exited with {status}"))
        }
        Ok(Ok(_)) => {}
    }
    text.lines()
        .find_map(Measurement::parse_line)
        .ok_or_else(|| format!("{what}: worker printed no result"))
}

/// Runs a worker with broker CPU sampled around it; returns the measurement
/// and the broker's CPU seconds, when the broker is ours.
/// Writes every dirty page out before a measurement, so that the kernel's
/// writeback of what the previous worker produced (up to 1 GB for the
/// 10 KB scenario) does not run during the next client's measurement and
/// tax whichever client happens to come next.
pub(crate) async fn settle_disk() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    let _ = tokio::task::spawn_blocking(|| unsafe { libc::sync() }).await;
}

/// Runs `spec` once, unmeasured, on a throwaway topic that is deleted
/// again, so that the measured run after it finds the broker's page cache
/// in memory the guest has just used.
///
/// The VMs this bench runs on give memory the guest frees back to the host
/// (virtio-balloon free page reporting: `/sys/module/page_reporting/`), and
/// the next write into it faults every page in again on the host: a broker
/// writing 1 GB of records into such a page cache spent 1.7–2.3 s of CPU in
/// the kernel's copy into the page cache (`copy_folio_from_iter_atomic`)
/// where 0.4–0.5 s sufficed right after another 1 GB run. Which client
/// paid it depended on its place in the run, not on the client
/// (docs/PERFORMANCE.md, "Warm memory").
async fn warm_up(broker: &BrokerUnderTest, spec: &WorkerSpec, partitions: i32) {
    let mut warm = spec.clone();
    warm.topic = format!("{}-warm-up", spec.topic);
    if let Err(e) = topics::create(broker, &warm.topic, partitions).await {
        eprintln!("  warm-up skipped: {e}");
        return;
    }
    if let Err(e) = worker(&warm, false).await {
        eprintln!("  warm-up run failed: {e}");
    }
    topics::delete(broker, &warm.topic).await;
}

async fn measured(
    broker: &BrokerUnderTest,
    spec: &WorkerSpec,
    count_allocs: bool,
) -> Result<(Measurement, Option<f64>), String> {
    settle_disk().await;
    let before = broker.snapshot();
    let m = worker(spec, count_allocs).await?;
    let after = broker.snapshot();
    let cpu = before
        .zip(after)
        .map(|(b, a)| a.cpu.saturating_sub(b.cpu).as_secs_f64());
    eprintln!(
        "  {:<8} {:<8} {:>12.0} rec/s {:>8.1} MB/s  cpu {:.2}s  rss {} MB{}",
        spec.client.to_string(),
        format!("{:?}", spec.scenario).to_lowercase(),
        m.records_per_sec(),
        m.mb_per_sec(),
        m.cpu.as_secs_f64(),
        m.max_rss_kib / 1024,
        m.latency.map_or(String::new(), |l| format!(
            "  p50 {:.2} ms p99 {:.2} ms",
            l.p50_us / 1e3,
            l.p99_us / 1e3
        )),
    );
    Ok((m, cpu))
}

struct RunContext<'a> {
    plan: &'a Plan,
    run: usize,
    broker: &'a BrokerUnderTest,
    figures: RunFigures,
}

impl RunContext<'_> {
    fn spec(
        &self,
        client: ClientKind,
        scenario: Scenario,
        topic: String,
        records: u64,
        size: usize,
    ) -> WorkerSpec {
        WorkerSpec {
            client,
            scenario,
            bootstrap: self.broker.bootstrap.clone(),
            topic,
            partitions: self.plan.partitions,
            records,
            value_size: size,
            lz4: false,
            rate: self.plan.scale.latency_rate,
            duration_secs: self.plan.scale.latency_secs,
            security: self.broker.security,
            ca_file: self.broker.ca_file.clone(),
            defaults: false,
        }
    }

    /// The clients in this run's order: rotated by one per run, so no
    /// client always measures first (right after the broker's previous
    /// scenario) or last.
    fn clients_in_order(&self) -> Vec<ClientKind> {
        let mut clients = self.plan.clients.clone();
        if !clients.is_empty() {
            let shift = (self.run.saturating_sub(1)) % clients.len();
            clients.rotate_left(shift);
        }
        clients
    }

    fn put(&mut self, metric: ClientMetric, client: ClientKind, value: f64) {
        self.figures.clients.insert((metric, client), value);
    }

    fn note_rss(&mut self, client: ClientKind, m: &Measurement) {
        let mb = m.max_rss_kib as f64 / 1024.0;
        let peak = self
            .figures
            .clients
            .entry((ClientMetric::PeakRss, client))
            .or_insert(0.0);
        *peak = peak.max(mb);
    }

    /// A library produce measurement, after its warm-up run unless
    /// `--no-warm-up` (see [`warm_up`]).
    async fn measured_produce(
        &self,
        spec: &WorkerSpec,
        count_allocs: bool,
    ) -> Result<(Measurement, Option<f64>), String> {
        if self.plan.warm_up {
            warm_up(self.broker, spec, self.plan.partitions).await;
        }
        measured(self.broker, spec, count_allocs).await
    }

    async fn fresh_topic(&self, what: &str, client: ClientKind) -> Result<String, String> {
        let topic = format!("bench-r{}-{what}-{client}", self.run);
        topics::create(self.broker, &topic, self.plan.partitions).await?;
        Ok(topic)
    }

    /// The 100 B produce scenario with every producer at its library's
    /// defaults (Kafka's perf tools have no such mode and sit it out).
    async fn defaults_runs(&mut self) {
        eprintln!("run {} produce 100 B at each client's defaults", self.run);
        let records = self.plan.scale.small_records;
        for client in self.clients_in_order() {
            if client == ClientKind::Java {
                continue;
            }
            let result = async {
                let topic = self.fresh_topic("defaults", client).await?;
                let mut spec = self.spec(client, Scenario::Produce, topic.clone(), records, 100);
                spec.defaults = true;
                let outcome = self.measured_produce(&spec, false).await;
                topics::delete(self.broker, &topic).await;
                outcome
            }
            .await;
            match result {
                Ok((m, broker_cpu)) => {
                    let figures = &mut self.figures.defaults;
                    figures.insert((ClientMetric::ProduceRate, client), m.records_per_sec());
                    figures.insert((ClientMetric::ProduceCpu, client), m.cpu.as_secs_f64());
                    if let Some(b) = broker_cpu {
                        figures.insert((ClientMetric::ProduceBrokerCpu, client), b);
                    }
                    figures.insert(
                        (ClientMetric::PeakRss, client),
                        m.max_rss_kib as f64 / 1024.0,
                    );
                }
                Err(e) => eprintln!("  FAILED: {e}"),
            }
        }
    }

    async fn produce_runs(&mut self) {
        let s = self.plan.scale;
        for (what, lz4, records, size) in [
            ("small", false, s.small_records, 100),
            ("lz4", true, s.small_records, 100),
            ("large", false, s.large_records, s.large_size),
            ("large-defaults", false, s.large_records, s.large_size),
        ] {
            // The 10 KB loop (`--large-only`) runs nothing but the two
            // 10 KB scenarios.
            let wanted = !self.plan.large_only || what.starts_with("large");
            if !wanted {
                continue;
            }
            eprintln!("run {} produce {what}", self.run);
            for client in self.clients_in_order() {
                let result = async {
                    let topic = self.fresh_topic(what, client).await?;
                    let mut spec =
                        self.spec(client, Scenario::Produce, topic.clone(), records, size);
                    spec.lz4 = lz4;
                    spec.defaults = what == "large-defaults";
                    let outcome = self.measured_produce(&spec, self.plan.count_allocs).await;
                    topics::delete(self.broker, &topic).await;
                    outcome
                }
                .await;
                let (m, broker_cpu) = match result {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("  FAILED: {e}");
                        continue;
                    }
                };
                self.note_rss(client, &m);
                let cpu = m.cpu.as_secs_f64();
                match what {
                    "small" => {
                        self.put(ClientMetric::ProduceRate, client, m.records_per_sec());
                        self.put(ClientMetric::ProduceCpu, client, cpu);
                        if let Some(b) = broker_cpu {
                            self.put(ClientMetric::ProduceBrokerCpu, client, b);
                        }
                        if self.plan.count_allocs {
                            self.put(
                                ClientMetric::ProduceAllocs,
                                client,
                                m.allocations as f64 / m.records.max(1) as f64,
                            );
                        }
                    }
                    "lz4" => {
                        self.put(ClientMetric::Lz4Rate, client, m.records_per_sec());
                        self.put(ClientMetric::Lz4Cpu, client, cpu);
                    }
                    "large-defaults" => {
                        eprintln!(
                            "  {client} 10 KB at its defaults: broker CPU {}",
                            broker_cpu.map_or("-".to_owned(), |b| format!("{b:.2} s")),
                        );
                        self.put(ClientMetric::LargeDefaultsRate, client, m.mb_per_sec());
                        self.put(ClientMetric::LargeDefaultsCpu, client, cpu);
                        if let Some(base) = self.figures.loopback_mb_per_sec {
                            let share = m.mb_per_sec() / base;
                            self.put(ClientMetric::LargeDefaultsVsLoopback, client, share);
                        }
                    }
                    _ => {
                        eprintln!(
                            "  {client} 10 KB at equal settings: broker CPU {}",
                            broker_cpu.map_or("-".to_owned(), |b| format!("{b:.2} s")),
                        );
                        self.put(ClientMetric::LargeRate, client, m.mb_per_sec());
                        self.put(ClientMetric::LargeCpu, client, cpu);
                        if let Some(base) = self.figures.loopback_mb_per_sec {
                            self.put(ClientMetric::LargeVsLoopback, client, m.mb_per_sec() / base);
                        }
                    }
                }
            }
        }
    }

    async fn consume_runs(&mut self) -> Result<(), String> {
        eprintln!("run {} consume", self.run);
        let records = self.plan.scale.small_records;
        let topic = self.fresh_topic("consume", ClientKind::Durian).await?;
        // The filler's warm-up record makes the topic hold records + 1.
        let fill = self.spec(
            ClientKind::Durian,
            Scenario::Produce,
            topic.clone(),
            records,
            100,
        );
        worker(&fill, false).await?;
        for client in self.clients_in_order() {
            let spec = self.spec(client, Scenario::Consume, topic.clone(), records + 1, 100);
            match measured(self.broker, &spec, self.plan.count_allocs).await {
                Ok((m, broker_cpu)) => {
                    self.note_rss(client, &m);
                    if let Some(b) = broker_cpu {
                        self.put(ClientMetric::ConsumeBrokerCpu, client, b);
                    }
                    self.put(ClientMetric::ConsumeRate, client, m.records_per_sec());
                    self.put(ClientMetric::ConsumeCpu, client, m.cpu.as_secs_f64());
                    if let Some(startup) = m.startup {
                        self.put(
                            ClientMetric::ConsumeStartup,
                            client,
                            startup.as_secs_f64() * 1e3,
                        );
                    }
                    if self.plan.count_allocs {
                        self.put(
                            ClientMetric::ConsumeAllocs,
                            client,
                            m.allocations as f64 / m.records.max(1) as f64,
                        );
                    }
                }
                Err(e) => eprintln!("  FAILED: {e}"),
            }
        }
        topics::delete(self.broker, &topic).await;
        Ok(())
    }

    /// [`BROKER_WARM_UP_ROUNDS`] unmeasured produces and consumes of the
    /// small scenario's size, so that a JVM broker's JIT has compiled its
    /// produce and fetch paths before the first measurement (durian's
    /// broker gets the same, so the two stay alike).
    async fn warm_up_broker(&self) -> Result<(), String> {
        eprintln!(
            "run {} warm-up of the {} broker (not measured, {BROKER_WARM_UP_ROUNDS} rounds)",
            self.run, self.broker.name
        );
        for _ in 0..BROKER_WARM_UP_ROUNDS {
            self.warm_up_broker_round().await?;
        }
        Ok(())
    }

    /// One produce and consume of the broker's warm-up, on a topic of its own.
    async fn warm_up_broker_round(&self) -> Result<(), String> {
        let records = self.plan.scale.small_records;
        let topic = self.fresh_topic("warmup", ClientKind::Durian).await?;
        let produce = self.spec(
            ClientKind::Durian,
            Scenario::Produce,
            topic.clone(),
            records,
            100,
        );
        let consume = self.spec(
            ClientKind::Durian,
            Scenario::Consume,
            topic.clone(),
            records + 1,
            100,
        );
        let outcome = async {
            worker(&produce, false).await?;
            worker(&consume, false).await
        }
        .await;
        topics::delete(self.broker, &topic).await;
        outcome.map(|_| ())
    }

    async fn latency_runs(&mut self) {
        eprintln!("run {} latency", self.run);
        for client in self.clients_in_order() {
            if !client.has_latency_scenario() {
                eprintln!("  {client:<8} has no latency scenario: skipped");
                continue;
            }
            let result = async {
                let topic = self.fresh_topic("latency", client).await?;
                let spec = self.spec(client, Scenario::Latency, topic.clone(), 0, 100);
                let outcome = measured(self.broker, &spec, false).await;
                topics::delete(self.broker, &topic).await;
                outcome
            }
            .await;
            match result {
                Ok((m, _)) => {
                    self.note_rss(client, &m);
                    if let Some(l) = m.latency {
                        self.put(ClientMetric::LatencyP50, client, l.p50_us / 1e3);
                        self.put(ClientMetric::LatencyP99, client, l.p99_us / 1e3);
                        self.put(ClientMetric::LatencyP999, client, l.p999_us / 1e3);
                        self.put(ClientMetric::LatencyMax, client, l.max_us / 1e3);
                    }
                    self.put(ClientMetric::LatencyCpu, client, m.cpu.as_secs_f64());
                }
                Err(e) => eprintln!("  FAILED: {e}"),
            }
        }
    }
}

/// Produce then fetch with durian's client against a fresh broker of each kind.
async fn broker_comparison(
    plan: &Plan,
    run: usize,
    figures: &mut RunFigures,
) -> Result<(), String> {
    let Some(tansu) = brokers::tansu_binary() else {
        eprintln!("Tansu not found (scripts/install-peers.sh or DURIAN_TANSU_BIN): broker comparison skipped");
        return Ok(());
    };
    for broker in [
        BrokerUnderTest::start_durian(Security::Plaintext)?,
        BrokerUnderTest::start_tansu(&tansu)?,
    ] {
        eprintln!("run {run} broker {}", broker.name);
        let topic = format!("bench-r{run}-broker");
        topics::create(&broker, &topic, plan.partitions).await?;
        let records = plan.scale.small_records;
        let mut spec = WorkerSpec {
            client: ClientKind::Durian,
            scenario: Scenario::Produce,
            bootstrap: broker.bootstrap.clone(),
            topic,
            partitions: plan.partitions,
            records,
            value_size: 100,
            lz4: false,
            rate: plan.scale.latency_rate,
            duration_secs: plan.scale.latency_secs,
            security: broker.security,
            ca_file: broker.ca_file.clone(),
            defaults: false,
        };
        let (produced, produce_cpu) = measured(&broker, &spec, false).await?;
        spec.scenario = Scenario::Consume;
        spec.records = records + 1;
        let (fetched, fetch_cpu) = measured(&broker, &spec, false).await?;
        let name = broker.name;
        let put = |f: &mut RunFigures, m: BrokerMetric, v: f64| {
            f.brokers.insert((m, name), v);
        };
        put(
            figures,
            BrokerMetric::ProduceRate,
            produced.records_per_sec(),
        );
        put(figures, BrokerMetric::FetchRate, fetched.records_per_sec());
        if let (Some(p), Some(f)) = (produce_cpu, fetch_cpu) {
            put(figures, BrokerMetric::ProduceCpu, p);
            put(figures, BrokerMetric::FetchCpu, f);
        }
        if let Some(snap) = broker.snapshot() {
            put(figures, BrokerMetric::Rss, snap.rss_kib as f64 / 1024.0);
            put(figures, BrokerMetric::PeakRss, snap.hwm_kib as f64 / 1024.0);
        }
    }
    Ok(())
}

/// Every client scenario against `broker`; the broker's RSS after them
/// (and its peak) go into `peer_brokers` under its name.
async fn client_runs(
    plan: &Plan,
    run: usize,
    broker: &BrokerUnderTest,
    figures: RunFigures,
    with_defaults: bool,
) -> RunFigures {
    let mut ctx = RunContext {
        plan,
        run,
        broker,
        figures,
    };
    if plan.kafka {
        if let Err(e) = ctx.warm_up_broker().await {
            eprintln!("  warm-up FAILED: {e}");
        }
    }
    if plan.large_only {
        ctx.produce_runs().await;
        return ctx.figures;
    }
    if with_defaults {
        ctx.defaults_runs().await;
    }
    if !plan.defaults_only {
        ctx.produce_runs().await;
        if let Err(e) = ctx.consume_runs().await {
            eprintln!("  consume FAILED: {e}");
        }
        ctx.latency_runs().await;
    }
    let mut figures = ctx.figures;
    if let Some(snap) = broker.snapshot() {
        let name = broker.name;
        figures
            .peer_brokers
            .insert((BrokerMetric::Rss, name), snap.rss_kib as f64 / 1024.0);
        figures
            .peer_brokers
            .insert((BrokerMetric::PeakRss, name), snap.hwm_kib as f64 / 1024.0);
    }
    figures
}

/// The same client scenarios against a fresh Apache Kafka node; its
/// figures land in `kafka_clients` (broker rows in `peer_brokers`).
async fn kafka_runs(plan: &Plan, run: usize, figures: &mut RunFigures) {
    let install = match crate::apache_kafka::find() {
        Ok(install) => install,
        Err(e) => {
            eprintln!("Apache Kafka not found ({e}): the runs against Kafka's broker are skipped");
            return;
        }
    };
    eprintln!("run {run} starting Apache Kafka's broker (KRaft, one node)");
    let broker = match crate::apache_kafka::start(&install).await {
        Ok(broker) => broker,
        Err(e) => {
            eprintln!("  Apache Kafka's broker FAILED to start: {e}");
            return;
        }
    };
    eprintln!("run {run} against Apache Kafka at {}", broker.bootstrap);
    let fresh = RunFigures {
        loopback_mb_per_sec: figures.loopback_mb_per_sec,
        ..RunFigures::default()
    };
    let on_kafka = client_runs(plan, run, &broker, fresh, false).await;
    figures.kafka_clients = on_kafka.clients;
    figures.peer_brokers.extend(on_kafka.peer_brokers);
}

/// One complete run: loopback baseline, client scenarios (against durian's
/// broker, then with `--kafka` against Kafka's), broker comparison.
pub async fn run_once(plan: &Plan, run: usize) -> Result<RunFigures, String> {
    let broker = match &plan.brokers {
        Some(address) => BrokerUnderTest::external(address),
        None => BrokerUnderTest::start_durian(plan.security)?,
    };
    let s = plan.scale;
    let loopback =
        crate::baseline::loopback(s.large_records * s.large_size as u64, s.large_size).await?;
    eprintln!("run {run} loopback {:.0} MB/s", loopback.mb_per_sec());
    let mut figures = RunFigures {
        loopback_mb_per_sec: Some(loopback.mb_per_sec()),
        ..RunFigures::default()
    };
    if let Some(setup) = &plan.file {
        eprintln!(
            "run {run} file → topic, whole processes ({} lines × {} B)",
            setup.lines,
            fileload::LINE_BYTES
        );
        figures.file = fileload::run(setup, &broker, run).await;
    }
    let mut figures = client_runs(plan, run, &broker, figures, true).await;
    drop(broker);
    if plan.kafka {
        kafka_runs(plan, run, &mut figures).await;
    }
    if plan.brokers.is_none() && !plan.skip_tansu && !plan.defaults_only {
        if let Err(e) = broker_comparison(plan, run, &mut figures).await {
            eprintln!("  broker comparison FAILED: {e}");
        }
    }
    Ok(figures)
}
