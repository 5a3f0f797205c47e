//! Collected figures of K runs, reduced to medians and rendered as markdown.
//!
//! Ratios are computed per run and then the median taken, so one noisy run
//! (the machine is shared) moves the ratio less than it moves the absolutes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::clients::ClientKind;
use crate::fileload::{FileFigures, FileMetric, FileTool};
use crate::metrics::{BrokerMetric, ClientMetric};

/// Figures of one run.
#[derive(Debug, Default, Clone)]
pub struct RunFigures {
    /// Per client and row.
    pub clients: BTreeMap<(ClientMetric, ClientKind), f64>,
    /// Per broker ("durian", "tansu") and row.
    pub brokers: BTreeMap<(BrokerMetric, &'static str), f64>,
    /// Loopback baseline, MB/s.
    pub loopback_mb_per_sec: Option<f64>,
    /// Per client and row, measured against Apache Kafka's broker (`--kafka`).
    pub kafka_clients: BTreeMap<(ClientMetric, ClientKind), f64>,
    /// RSS rows of the brokers the clients ran against ("durian", "kafka"),
    /// read after all their client scenarios.
    pub peer_brokers: BTreeMap<(BrokerMetric, &'static str), f64>,
    /// Per client and row, the 100 B produce scenario at each client's
    /// own defaults (rate, CPU, broker CPU, that worker's peak RSS).
    pub defaults: BTreeMap<(ClientMetric, ClientKind), f64>,
    /// The whole-process file → topic scenario.
    pub file: FileFigures,
}

/// Median of `values` (mean of the middle two for an even count); `None` when empty.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

fn fmt_value(v: Option<f64>) -> String {
    match v {
        None => "–".to_owned(),
        Some(v) if v.abs() >= 10_000.0 => format_thousands(v.round() as i64),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

fn format_thousands(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 {
        out.insert(0, '-');
    }
    out
}

fn fmt_ratio(v: Option<f64>) -> String {
    v.map_or("–".to_owned(), |v| format!("{v:.2}"))
}

/// Median over runs of `a ÷ b`, skipping runs where either is missing or b is 0.
fn median_ratio<K: Ord + Copy>(runs: &[BTreeMap<K, f64>], a: K, b: K) -> Option<f64> {
    median(
        runs.iter()
            .filter_map(|r| Some((*r.get(&a)?, *r.get(&b)?)))
            .filter(|(_, b)| *b != 0.0)
            .map(|(a, b)| a / b)
            .collect(),
    )
}

fn median_of<K: Ord + Copy>(runs: &[BTreeMap<K, f64>], key: K) -> Option<f64> {
    median(runs.iter().filter_map(|r| r.get(&key).copied()).collect())
}

/// The client table: absolutes per client, ratios durian ÷ each other, target.
///
/// With `listener` (e.g. `SASL_SSL`), every row's label names it, so rows
/// copied out of the table still say which listener they were measured on.
pub fn client_table(
    runs: &[RunFigures],
    columns: &[ClientKind],
    counted_allocs: bool,
    listener: Option<&str>,
) -> String {
    let maps: Vec<_> = runs.iter().map(|r| r.clients.clone()).collect();
    let metrics: Vec<ClientMetric> = ClientMetric::ALL
        .into_iter()
        .filter(|m| counted_allocs || !m.needs_alloc_counting())
        .collect();
    metric_table(&maps, columns, &metrics, listener)
}

/// The rows of the produce scenario at each client's defaults (the
/// client's peak RSS row is that one worker's); `None` without figures.
pub fn defaults_table(runs: &[RunFigures], columns: &[ClientKind]) -> Option<String> {
    let maps: Vec<_> = runs.iter().map(|r| r.defaults.clone()).collect();
    if maps.iter().all(|m| m.is_empty()) {
        return None;
    }
    let columns: Vec<ClientKind> = columns
        .iter()
        .copied()
        .filter(|c| *c != ClientKind::Java)
        .collect();
    let metrics = [
        ClientMetric::ProduceRate,
        ClientMetric::ProduceCpu,
        ClientMetric::ProduceBrokerCpu,
        ClientMetric::PeakRss,
    ];
    Some(metric_table(&maps, &columns, &metrics, None))
}

/// `metrics` as rows, `columns` as client columns, then durian ÷ each
/// other client and the row's target judged on durian ÷ rdkafka.
fn metric_table(
    maps: &[BTreeMap<(ClientMetric, ClientKind), f64>],
    columns: &[ClientKind],
    metrics: &[ClientMetric],
    listener: Option<&str>,
) -> String {
    let others: Vec<ClientKind> = columns
        .iter()
        .copied()
        .filter(|c| *c != ClientKind::Durian)
        .collect();
    let has_durian = columns.contains(&ClientKind::Durian);
    let mut out = String::from("| figure |");
    for c in columns {
        let _ = write!(out, " {c} |");
    }
    if has_durian {
        for o in &others {
            let _ = write!(out, " durian ÷ {o} |");
        }
        out.push_str(" target | met |");
    }
    out.push('\n');
    let width = 1 + columns.len() + if has_durian { others.len() + 2 } else { 0 };
    out.push_str(&"|---".repeat(width));
    out.push_str("|\n");
    for &metric in metrics {
        match listener {
            Some(name) => {
                let _ = write!(out, "| {name}: {} |", metric.label());
            }
            None => {
                let _ = write!(out, "| {} |", metric.label());
            }
        }
        for c in columns {
            let _ = write!(out, " {} |", fmt_value(median_of(maps, (metric, *c))));
        }
        if has_durian {
            for o in &others {
                let ratio = if metric.is_share_of_loopback() {
                    None
                } else {
                    median_ratio(maps, (metric, ClientKind::Durian), (metric, *o))
                };
                let _ = write!(out, " {} |", fmt_ratio(ratio));
            }
            let judged = if metric.is_share_of_loopback() {
                median_of(maps, (metric, ClientKind::Durian))
            } else {
                median_ratio(
                    maps,
                    (metric, ClientKind::Durian),
                    (metric, ClientKind::Rdkafka),
                )
            };
            match metric.target() {
                Some(t) => {
                    let what = if metric.is_share_of_loopback() {
                        "durian"
                    } else {
                        "÷ rdkafka"
                    };
                    let met = judged.map_or("–", |v| if t.met(v) { "yes" } else { "**no**" });
                    let _ = write!(out, " {what} {} | {met} |", t.describe());
                }
                None => out.push_str(" | |"),
            }
        }
        out.push('\n');
    }
    out
}

/// The whole-process file → topic table: one column per tool, each durian
/// tool ÷ the rdkafka program, and the issue's ≥ 1.5 target on lines/s
/// for each; `None` without figures.
pub fn file_table(runs: &[RunFigures]) -> Option<String> {
    let maps: Vec<FileFigures> = runs.iter().map(|r| r.file.clone()).collect();
    let tools: Vec<FileTool> = FileTool::ALL
        .into_iter()
        .filter(|t| maps.iter().any(|m| m.keys().any(|(_, tool)| tool == t)))
        .collect();
    if tools.is_empty() {
        return None;
    }
    let durian_tools: Vec<FileTool> = tools
        .iter()
        .copied()
        .filter(|t| *t != FileTool::Rdkafka)
        .collect();
    let mut out = String::from("| figure |");
    for t in &tools {
        let _ = write!(out, " {t} |");
    }
    for t in &durian_tools {
        let _ = write!(out, " {t} ÷ rdkafka |");
    }
    out.push_str(" target | met |\n");
    out.push_str(&"|---".repeat(1 + tools.len() + durian_tools.len() + 2));
    out.push_str("|\n");
    for metric in FileMetric::ALL {
        if tools
            .iter()
            .all(|t| median_of(&maps, (metric, *t)).is_none())
        {
            continue;
        }
        let _ = write!(out, "| {} |", metric.label());
        for t in &tools {
            let _ = write!(out, " {} |", fmt_value(median_of(&maps, (metric, *t))));
        }
        let ratios: Vec<(FileTool, Option<f64>)> = durian_tools
            .iter()
            .map(|t| {
                (
                    *t,
                    median_ratio(&maps, (metric, *t), (metric, FileTool::Rdkafka)),
                )
            })
            .collect();
        for (_, ratio) in &ratios {
            let _ = write!(out, " {} |", fmt_ratio(*ratio));
        }
        if metric == FileMetric::Rate {
            let target = crate::metrics::Target::AtLeast(1.5);
            let met: Vec<String> = ratios
                .iter()
                .map(|(t, r)| {
                    let verdict = r.map_or("–", |v| if target.met(v) { "yes" } else { "**no**" });
                    format!("{t}: {verdict}")
                })
                .collect();
            let _ = write!(
                out,
                " ÷ rdkafka {} | {} |",
                target.describe(),
                met.join(", ")
            );
        } else {
            out.push_str(" | |");
        }
        out.push('\n');
    }
    Some(out)
}

/// The broker table: durian's broker and Tansu under durian's client.
pub fn broker_table(runs: &[RunFigures]) -> Option<String> {
    let maps: Vec<_> = runs.iter().map(|r| r.brokers.clone()).collect();
    if maps.iter().all(|m| m.is_empty()) {
        return None;
    }
    let mut out = String::from(
        "| figure | durian broker | Tansu (memory) | durian ÷ Tansu | target | met |\n",
    );
    out.push_str("|---|---|---|---|---|---|\n");
    for metric in BrokerMetric::ALL {
        let ratio = median_ratio(&maps, (metric, "durian"), (metric, "tansu"));
        let (target, met) = match metric.target() {
            Some(t) => (
                t.describe(),
                ratio.map_or("–", |v| if t.met(v) { "yes" } else { "**no**" }),
            ),
            None => (String::new(), ""),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            metric.label(),
            fmt_value(median_of(&maps, (metric, "durian"))),
            fmt_value(median_of(&maps, (metric, "tansu"))),
            fmt_ratio(ratio),
            target,
            met
        );
    }
    Some(out)
}

/// The "Against Apache Kafka" tables: every client row twice, once per
/// broker (rows named after it), with durian ÷ each other client; then the
/// brokers' memory after the client scenarios. `None` without Kafka figures.
pub fn peer_table(runs: &[RunFigures], columns: &[ClientKind]) -> Option<String> {
    let on_durian: Vec<_> = runs.iter().map(|r| r.clients.clone()).collect();
    let on_kafka: Vec<_> = runs.iter().map(|r| r.kafka_clients.clone()).collect();
    if on_kafka.iter().all(|m| m.is_empty()) {
        return None;
    }
    let others: Vec<ClientKind> = columns
        .iter()
        .copied()
        .filter(|c| *c != ClientKind::Durian)
        .collect();
    let has_durian = columns.contains(&ClientKind::Durian);
    let mut out = String::from("| figure |");
    for c in columns {
        let _ = write!(out, " {c} client |");
    }
    if has_durian {
        for o in &others {
            let _ = write!(out, " durian ÷ {o} |");
        }
    }
    out.push('\n');
    let width = 1 + columns.len() + if has_durian { others.len() } else { 0 };
    out.push_str(&"|---".repeat(width));
    out.push_str("|\n");
    for metric in ClientMetric::ALL {
        for (broker, maps) in [("durian broker", &on_durian), ("kafka broker", &on_kafka)] {
            let values: Vec<Option<f64>> = columns
                .iter()
                .map(|c| median_of(maps, (metric, *c)))
                .collect();
            if values.iter().all(Option::is_none) {
                continue;
            }
            let _ = write!(out, "| {broker}: {} |", metric.label());
            for v in values {
                let _ = write!(out, " {} |", fmt_value(v));
            }
            if has_durian {
                for o in &others {
                    // A share of loopback is judged on its own, as in the client table.
                    let ratio = (!metric.is_share_of_loopback())
                        .then(|| median_ratio(maps, (metric, ClientKind::Durian), (metric, *o)))
                        .flatten();
                    let _ = write!(out, " {} |", fmt_ratio(ratio));
                }
            }
            out.push('\n');
        }
    }
    let brokers: Vec<_> = runs.iter().map(|r| r.peer_brokers.clone()).collect();
    out.push_str(
        "\n| figure | durian broker | kafka broker | durian ÷ kafka |\n|---|---|---|---|\n",
    );
    for (metric, label) in [
        (
            BrokerMetric::Rss,
            "broker RSS after all client scenarios MB",
        ),
        (BrokerMetric::PeakRss, "broker peak RSS MB"),
    ] {
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} |",
            fmt_value(median_of(&brokers, (metric, "durian"))),
            fmt_value(median_of(&brokers, (metric, "kafka"))),
            fmt_ratio(median_ratio(
                &brokers,
                (metric, "durian"),
                (metric, "kafka")
            )),
        );
    }
    Some(out)
}

/// Loopback baseline line.
pub fn loopback_line(runs: &[RunFigures]) -> String {
    let mb = median(runs.iter().filter_map(|r| r.loopback_mb_per_sec).collect());
    format!(
        "Loopback TCP baseline (10 KB writes, same process): {} MB/s.\n",
        fmt_value(mb)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_handles_odd_even_and_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![f64::NAN]), None);
    }

    #[test]
    fn ratio_is_the_median_of_per_run_ratios() {
        let mut runs = Vec::new();
        for (d, r) in [(200.0, 100.0), (300.0, 100.0), (100.0, 100.0)] {
            let mut f = RunFigures::default();
            f.clients
                .insert((ClientMetric::ProduceRate, ClientKind::Durian), d);
            f.clients
                .insert((ClientMetric::ProduceRate, ClientKind::Rdkafka), r);
            runs.push(f);
        }
        let table = client_table(
            &runs,
            &[ClientKind::Durian, ClientKind::Rdkafka],
            false,
            None,
        );
        let row = table
            .lines()
            .find(|l| l.starts_with("| produce 100 B: records/s"))
            .expect("row");
        assert!(
            row.contains("| 200 | 100 | 2.00 | ÷ rdkafka ≥ 1.5 | yes |"),
            "{row}"
        );
        assert!(!table.contains("allocations"));
    }

    #[test]
    fn rows_name_the_listener_when_given() {
        let mut f = RunFigures::default();
        f.clients
            .insert((ClientMetric::ProduceRate, ClientKind::Durian), 90.0);
        f.clients
            .insert((ClientMetric::ProduceRate, ClientKind::Rdkafka), 60.0);
        let columns = [ClientKind::Durian, ClientKind::Rdkafka];
        let table = client_table(&[f], &columns, false, Some("SASL_SSL"));
        let row = table
            .lines()
            .find(|l| l.starts_with("| SASL_SSL: produce 100 B: records/s"))
            .expect("row named after the listener");
        assert!(row.contains("| 90.0 | 60.0 | 1.50 |"), "{row}");
        assert!(table.lines().skip(2).all(|l| l.starts_with("| SASL_SSL: ")));
    }

    #[test]
    fn peer_rows_name_the_broker() {
        let mut f = RunFigures::default();
        f.clients
            .insert((ClientMetric::ProduceRate, ClientKind::Durian), 300.0);
        f.clients
            .insert((ClientMetric::ProduceRate, ClientKind::Java), 100.0);
        f.kafka_clients
            .insert((ClientMetric::ProduceRate, ClientKind::Durian), 200.0);
        f.kafka_clients
            .insert((ClientMetric::ProduceRate, ClientKind::Java), 400.0);
        f.peer_brokers
            .insert((BrokerMetric::PeakRss, "durian"), 20.0);
        f.peer_brokers
            .insert((BrokerMetric::PeakRss, "kafka"), 800.0);
        let columns = [ClientKind::Durian, ClientKind::Java];
        let table = peer_table(std::slice::from_ref(&f), &columns).expect("kafka figures");
        assert!(
            table.contains("| durian broker: produce 100 B: records/s | 300 | 100 | 3.00 |"),
            "{table}"
        );
        assert!(
            table.contains("| kafka broker: produce 100 B: records/s | 200 | 400 | 0.50 |"),
            "{table}"
        );
        assert!(
            table.contains("| broker peak RSS MB | 20.0 | 800 | 0.03 |"),
            "{table}"
        );
        assert!(
            !table.contains("latency"),
            "rows without figures are left out"
        );
        f.kafka_clients.clear();
        assert!(peer_table(&[f], &columns).is_none());
    }

    #[test]
    fn file_table_judges_each_durian_tool_against_rdkafka() {
        let mut f = RunFigures::default();
        f.file
            .insert((FileMetric::Rate, FileTool::DurianProduce), 300.0);
        f.file
            .insert((FileMetric::Rate, FileTool::DurianShip), 100.0);
        f.file.insert((FileMetric::Rate, FileTool::Rdkafka), 150.0);
        f.file.insert((FileMetric::Cpu, FileTool::Rdkafka), 2.0);
        let table = file_table(std::slice::from_ref(&f)).expect("file figures");
        let rate = table
            .lines()
            .find(|l| l.starts_with("| file → topic: lines/s"))
            .expect("rate row");
        assert!(
            rate.contains("| 300 | 100 | 150 | 2.00 | 0.67 | ÷ rdkafka ≥ 1.5 | durian produce -f: yes, durian ship: **no** |"),
            "{rate}"
        );
        assert!(
            table.contains("| process CPU s (user+sys) | – | – | 2.00 | – | – | | |"),
            "{table}"
        );
        assert!(
            !table.contains("system calls"),
            "rows without figures are left out"
        );
        assert!(file_table(&[RunFigures::default()]).is_none());
    }

    #[test]
    fn defaults_table_leaves_java_out() {
        let mut f = RunFigures::default();
        f.defaults
            .insert((ClientMetric::ProduceRate, ClientKind::Durian), 300.0);
        f.defaults
            .insert((ClientMetric::ProduceRate, ClientKind::Rdkafka), 100.0);
        let columns = [ClientKind::Durian, ClientKind::Rdkafka, ClientKind::Java];
        let table = defaults_table(std::slice::from_ref(&f), &columns).expect("figures");
        assert!(!table.contains("java"), "{table}");
        assert!(
            table.contains(
                "| produce 100 B: records/s | 300 | 100 | 3.00 | ÷ rdkafka ≥ 1.5 | yes |"
            ),
            "{table}"
        );
        assert!(defaults_table(&[RunFigures::default()], &columns).is_none());
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(format_thousands(1_234_567), "1,234,567");
        assert_eq!(format_thousands(-12_345), "-12,345");
    }
}
