//! The rows of the result tables: what each figure is, its unit, which
//! direction is better, and the target issue 8 sets for it.

use crate::clients::ClientKind;

/// A figure measured per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientMetric {
    /// Produce 100 B records: records/s.
    ProduceRate,
    /// Produce 100 B records: client CPU seconds.
    ProduceCpu,
    /// Produce 100 B records: broker CPU seconds.
    ProduceBrokerCpu,
    /// Produce 100 B records: heap allocations per record (with `--count-allocs`).
    ProduceAllocs,
    /// Produce 100 B records with lz4: records/s.
    Lz4Rate,
    /// Produce 100 B records with lz4: client CPU seconds.
    Lz4Cpu,
    /// Produce 10 KB records: MB/s.
    LargeRate,
    /// Produce 10 KB records: share of the loopback baseline.
    LargeVsLoopback,
    /// Produce 10 KB records: client CPU seconds.
    LargeCpu,
    /// Produce 10 KB records at each library's defaults: MB/s.
    LargeDefaultsRate,
    /// Produce 10 KB records at each library's defaults: share of loopback.
    LargeDefaultsVsLoopback,
    /// Produce 10 KB records at each library's defaults: client CPU seconds.
    LargeDefaultsCpu,
    /// Consume 100 B records: records/s.
    ConsumeRate,
    /// Consume: client CPU seconds.
    ConsumeCpu,
    /// Consume: from creating the consumer to its first record, ms.
    ConsumeStartup,
    /// Consume: broker CPU seconds.
    ConsumeBrokerCpu,
    /// Consume: heap allocations per record (with `--count-allocs`).
    ConsumeAllocs,
    /// Latency at a fixed rate: median, ms.
    LatencyP50,
    /// 99th percentile, ms.
    LatencyP99,
    /// 99.9th percentile, ms.
    LatencyP999,
    /// Largest, ms.
    LatencyMax,
    /// Latency run: client CPU seconds.
    LatencyCpu,
    /// Peak RSS of the client process over all scenarios, MB.
    PeakRss,
}

/// A target on the durian ÷ rdkafka ratio (or, for 10 KB, on durian's share of loopback).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// The ratio must be at least this.
    AtLeast(f64),
    /// The ratio must be at most this.
    AtMost(f64),
}

impl Target {
    /// Whether `value` meets the target.
    pub fn met(self, value: f64) -> bool {
        match self {
            Target::AtLeast(t) => value >= t,
            Target::AtMost(t) => value <= t,
        }
    }

    /// The target as table text.
    pub fn describe(self) -> String {
        match self {
            Target::AtLeast(t) => format!("≥ {t}"),
            Target::AtMost(t) => format!("≤ {t}"),
        }
    }
}

impl ClientMetric {
    /// Every row, in table order.
    pub const ALL: [ClientMetric; 23] = [
        ClientMetric::ProduceRate,
        ClientMetric::ProduceCpu,
        ClientMetric::ProduceBrokerCpu,
        ClientMetric::ProduceAllocs,
        ClientMetric::Lz4Rate,
        ClientMetric::Lz4Cpu,
        ClientMetric::LargeRate,
        ClientMetric::LargeVsLoopback,
        ClientMetric::LargeCpu,
        ClientMetric::LargeDefaultsRate,
        ClientMetric::LargeDefaultsVsLoopback,
        ClientMetric::LargeDefaultsCpu,
        ClientMetric::ConsumeRate,
        ClientMetric::ConsumeCpu,
        ClientMetric::ConsumeStartup,
        ClientMetric::ConsumeBrokerCpu,
        ClientMetric::ConsumeAllocs,
        ClientMetric::LatencyP50,
        ClientMetric::LatencyP99,
        ClientMetric::LatencyP999,
        ClientMetric::LatencyMax,
        ClientMetric::LatencyCpu,
        ClientMetric::PeakRss,
    ];

    /// Row label.
    pub fn label(self) -> &'static str {
        match self {
            ClientMetric::ProduceRate => "produce 100 B: records/s",
            ClientMetric::ProduceCpu => "produce 100 B: client CPU s",
            ClientMetric::ProduceBrokerCpu => "produce 100 B: broker CPU s",
            ClientMetric::ProduceAllocs => "produce 100 B: allocations/record",
            ClientMetric::Lz4Rate => "produce 100 B lz4: records/s",
            ClientMetric::Lz4Cpu => "produce 100 B lz4: client CPU s",
            ClientMetric::LargeRate => "produce 10 KB: MB/s",
            ClientMetric::LargeVsLoopback => "produce 10 KB: share of loopback",
            ClientMetric::LargeCpu => "produce 10 KB: client CPU s",
            ClientMetric::LargeDefaultsRate => "produce 10 KB at defaults: MB/s",
            ClientMetric::LargeDefaultsVsLoopback => "produce 10 KB at defaults: share of loopback",
            ClientMetric::LargeDefaultsCpu => "produce 10 KB at defaults: client CPU s",
            ClientMetric::ConsumeRate => "consume 100 B: records/s",
            ClientMetric::ConsumeCpu => "consume 100 B: client CPU s",
            ClientMetric::ConsumeStartup => "consume: ms to first record",
            ClientMetric::ConsumeBrokerCpu => "consume 100 B: broker CPU s",
            ClientMetric::ConsumeAllocs => "consume 100 B: allocations/record",
            ClientMetric::LatencyP50 => "latency p50 ms",
            ClientMetric::LatencyP99 => "latency p99 ms",
            ClientMetric::LatencyP999 => "latency p99.9 ms",
            ClientMetric::LatencyMax => "latency max ms",
            ClientMetric::LatencyCpu => "latency run: client CPU s",
            ClientMetric::PeakRss => "client peak RSS MB",
        }
    }

    /// Whether the row is a share of the loopback baseline: judged on
    /// durian's own figure, never as a ratio to another client.
    pub fn is_share_of_loopback(self) -> bool {
        matches!(
            self,
            ClientMetric::LargeVsLoopback | ClientMetric::LargeDefaultsVsLoopback
        )
    }

    /// The target for this row, where it sets one. For a share of
    /// loopback it applies to durian's own share, not a ratio.
    pub fn target(self) -> Option<Target> {
        match self {
            ClientMetric::ProduceRate | ClientMetric::ConsumeRate => Some(Target::AtLeast(1.5)),
            ClientMetric::LatencyP99 => Some(Target::AtMost(1.0)),
            ClientMetric::PeakRss => Some(Target::AtMost(0.5)),
            ClientMetric::LargeVsLoopback | ClientMetric::LargeDefaultsVsLoopback => {
                Some(Target::AtLeast(0.5))
            }
            _ => None,
        }
    }

    /// Whether the row is only filled when allocations are counted.
    pub fn needs_alloc_counting(self) -> bool {
        matches!(
            self,
            ClientMetric::ProduceAllocs | ClientMetric::ConsumeAllocs
        )
    }
}

/// A figure measured per broker under the same client load (durian's client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BrokerMetric {
    /// Produce 100 B records: records/s.
    ProduceRate,
    /// Broker CPU seconds during the produce run.
    ProduceCpu,
    /// Fetch (consume) of those records: records/s.
    FetchRate,
    /// Broker CPU seconds during the fetch run.
    FetchCpu,
    /// Broker RSS after both runs, MB.
    Rss,
    /// Broker peak RSS (VmHWM), MB.
    PeakRss,
}

impl BrokerMetric {
    /// Every row, in table order.
    pub const ALL: [BrokerMetric; 6] = [
        BrokerMetric::ProduceRate,
        BrokerMetric::ProduceCpu,
        BrokerMetric::FetchRate,
        BrokerMetric::FetchCpu,
        BrokerMetric::Rss,
        BrokerMetric::PeakRss,
    ];

    /// Row label.
    pub fn label(self) -> &'static str {
        match self {
            BrokerMetric::ProduceRate => "produce 100 B: records/s",
            BrokerMetric::ProduceCpu => "produce: broker CPU s",
            BrokerMetric::FetchRate => "fetch 100 B: records/s",
            BrokerMetric::FetchCpu => "fetch: broker CPU s",
            BrokerMetric::Rss => "broker RSS after MB",
            BrokerMetric::PeakRss => "broker peak RSS MB",
        }
    }

    /// The target on durian ÷ Tansu.
    pub fn target(self) -> Option<Target> {
        match self {
            BrokerMetric::ProduceRate => Some(Target::AtLeast(2.0)),
            _ => None,
        }
    }
}

/// Columns of the client table, durian first.
pub fn client_columns(clients: &[ClientKind]) -> Vec<ClientKind> {
    let mut columns = clients.to_vec();
    columns.sort();
    columns.dedup();
    columns
}
