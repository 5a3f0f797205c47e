//! `buffer.memory` accounting with a `batch.size` larger than the first
//! reservation: batches reserve what they hold and grow as they fill.

#![allow(clippy::unwrap_used)]

use tokio::time::Instant;

use super::buffer_pool::{MemoryBudget, Reservation};
use super::tests::{ack, metadata, partitions, rules, settings, TOPIC};
use super::*;

const LARGE_BATCH: usize = 1024 * 1024;

fn large_batches() -> AccumulatorSettings {
    AccumulatorSettings {
        batch_size: LARGE_BATCH,
        ..settings()
    }
}

/// A record of `len` bytes of value.
fn record(value: &Bytes) -> RecordParts<'_> {
    RecordParts {
        timestamp: 1_000,
        key: None,
        value: Some(value),
        headers: &[],
    }
}

/// Appends with the memory `append` asked for, taken from `budget` at once
/// (the budget must have room); returns whether a new batch was opened.
fn append_now(
    acc: &mut Accumulator,
    budget: &MemoryBudget,
    count: i32,
    partition: i32,
    value: &Bytes,
) -> bool {
    let mut reservation = None;
    for _ in 0..3 {
        let outcome = acc
            .append(
                TOPIC,
                &partitions(count),
                Some(partition),
                &record(value),
                Instant::now(),
                reservation.take(),
            )
            .unwrap();
        match outcome {
            Append::Done { new_batch, .. } => return new_batch,
            Append::NeedsMemory { bytes, .. } => {
                reservation = Some(budget.try_reserve(bytes).expect("budget has room"));
            }
        }
    }
    panic!("append kept asking for memory");
}

/// Asks for memory once more than the budget has: returns what was asked.
fn needs_memory(acc: &mut Accumulator, count: i32, partition: i32, value: &Bytes) -> usize {
    match acc
        .append(
            TOPIC,
            &partitions(count),
            Some(partition),
            &record(value),
            Instant::now(),
            None,
        )
        .unwrap()
    {
        Append::NeedsMemory { bytes, .. } => bytes,
        other => panic!("expected a request for memory, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_batch_reserves_what_it_holds_and_doubles_up_to_batch_size() {
    let budget = MemoryBudget::new(4 * LARGE_BATCH);
    let mut acc = Accumulator::new(large_batches());
    let value = Bytes::from(vec![b'v'; 1000]);
    assert!(append_now(&mut acc, &budget, 1, 0, &value));
    assert_eq!(acc.reserved_bytes(), FIRST_RESERVATION);
    let mut seen = vec![acc.reserved_bytes()];
    let mut new_batches = 0;
    // Two batch.size worth of records: the first batch fills, a second opens.
    for _ in 0..(2 * LARGE_BATCH / 1020) {
        new_batches += usize::from(append_now(&mut acc, &budget, 1, 0, &value));
        let reserved = acc.reserved_bytes();
        assert_eq!(
            budget.in_use(),
            reserved,
            "the budget counts what batches hold"
        );
        assert!(
            acc.buffers_within_reservations(),
            "a buffer outgrew its memory"
        );
        if seen.last() != Some(&reserved) {
            seen.push(reserved);
        }
    }
    assert_eq!(new_batches, 1, "records go to one batch until it is full");
    // 16 KiB, doubled up to 1 MiB, then a second batch's first 16 KiB
    // (and its own doubling).
    let doubling: Vec<usize> = (0..=6).map(|k| FIRST_RESERVATION << k).collect();
    assert_eq!(seen[..doubling.len()], doubling[..], "{seen:?}");
    assert_eq!(seen[doubling.len()], LARGE_BATCH + FIRST_RESERVATION);
    // No batch reserved more than batch.size.
    let meta = metadata(&[1]);
    let hurried = DrainRules {
        hurry: true,
        ..rules(Instant::now())
    };
    let mut sizes = Vec::new();
    // One batch of a partition per request.
    for _ in 0..2 {
        let (drained, _) = acc.drain(1, &meta, &hurried, 4 * LARGE_BATCH, None);
        assert_eq!(drained.len(), 1);
        sizes.push(drained[0].payload.len());
        acc.complete(TOPIC, 0, drained[0].batch_id, ack(0), Instant::now());
    }
    assert!(sizes[0] <= LARGE_BATCH, "{sizes:?}");
    assert!(
        sizes[0] > LARGE_BATCH - 1100,
        "the first batch was full: {sizes:?}"
    );
    assert_eq!(budget.in_use(), 0);
}

#[tokio::test(start_paused = true)]
async fn many_mostly_empty_batches_hold_only_their_first_reservation() {
    // With 1 MiB reserved per batch, 64 partitions would need 64 MiB; a
    // batch holding one small record holds 16 KiB, so 1 MiB is enough.
    let budget = MemoryBudget::new(64 * FIRST_RESERVATION);
    let mut acc = Accumulator::new(large_batches());
    for partition in 0..64 {
        assert!(append_now(
            &mut acc,
            &budget,
            64,
            partition,
            &Bytes::from_static(b"small")
        ));
    }
    assert_eq!(acc.reserved_bytes(), 64 * FIRST_RESERVATION);
    assert_eq!(budget.in_use(), 64 * FIRST_RESERVATION);
    // The budget is spent: another partition's first record must wait.
    let mut wider = Accumulator::new(large_batches());
    assert_eq!(
        needs_memory(&mut wider, 65, 64, &Bytes::from_static(b"small")),
        FIRST_RESERVATION
    );
    // Appends that fit a batch's reservation need nothing more.
    for partition in 0..64 {
        assert!(!append_now(
            &mut acc,
            &budget,
            64,
            partition,
            &Bytes::from_static(b"more")
        ));
    }
    assert_eq!(budget.in_use(), 64 * FIRST_RESERVATION);
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_cannot_grow_asks_for_the_difference_and_keeps_filling() {
    // Room for the first reservation and one doubling, but another batch
    // holds part of it: the growth has to wait.
    let budget = MemoryBudget::new(3 * FIRST_RESERVATION);
    let mut acc = Accumulator::new(large_batches());
    let other: Reservation = budget.try_reserve(2 * FIRST_RESERVATION).unwrap();
    let value = Bytes::from(vec![b'v'; 1000]);
    let mut appended = 0;
    let wanted = loop {
        let outcome = acc
            .append(
                TOPIC,
                &partitions(1),
                Some(0),
                &record(&value),
                Instant::now(),
                (appended == 0).then(|| budget.try_reserve(FIRST_RESERVATION).unwrap()),
            )
            .unwrap();
        match outcome {
            Append::Done { new_batch, .. } => {
                assert_eq!(new_batch, appended == 0);
                appended += 1;
            }
            Append::NeedsMemory { bytes, .. } => break bytes,
        }
        assert!(appended < 100, "the batch never needed to grow");
    };
    assert_eq!(
        wanted, FIRST_RESERVATION,
        "doubling 16 KiB asks for 16 KiB more"
    );
    assert_eq!(acc.reserved_bytes(), FIRST_RESERVATION);
    // The record is not in any batch yet, and nothing exceeded the budget.
    assert_eq!(budget.in_use(), 3 * FIRST_RESERVATION);
    // Room comes back (as when another batch is acknowledged): the bytes
    // waited for go to the same batch, which takes the record.
    drop(other);
    let more = budget.try_reserve(wanted).unwrap();
    let outcome = acc
        .append(
            TOPIC,
            &partitions(1),
            Some(0),
            &record(&value),
            Instant::now(),
            Some(more),
        )
        .unwrap();
    assert!(matches!(
        outcome,
        Append::Done {
            new_batch: false,
            ..
        }
    ));
    assert_eq!(acc.reserved_bytes(), 2 * FIRST_RESERVATION);
    assert_eq!(budget.in_use(), 2 * FIRST_RESERVATION);
    assert!(acc.buffers_within_reservations());
}

#[tokio::test(start_paused = true)]
async fn a_record_past_batch_size_opens_a_new_batch_without_growing_the_full_one() {
    // batch.size between one and two first reservations: the batch grows
    // once, to batch.size, and a record that does not fit then asks for a
    // new batch's memory, not for more of the full one.
    let batch_size = FIRST_RESERVATION + FIRST_RESERVATION / 2;
    let budget = MemoryBudget::new(4 * batch_size);
    let mut acc = Accumulator::new(AccumulatorSettings {
        batch_size,
        ..settings()
    });
    let value = Bytes::from(vec![b'v'; 1000]);
    let mut opened = 0;
    while opened < 2 {
        opened += usize::from(append_now(&mut acc, &budget, 1, 0, &value));
        assert!(acc.reserved_bytes() <= batch_size + FIRST_RESERVATION);
    }
    assert_eq!(acc.reserved_bytes(), batch_size + FIRST_RESERVATION);
}

#[tokio::test(start_paused = true)]
async fn referenced_values_count_against_buffer_memory_as_copied_ones_do() {
    // The same 10 KB records into an accumulator that copies values and
    // one that references them: both reserve the same bytes at every step.
    let value = Bytes::from(vec![b'v'; 10_000]);
    let copying_settings = AccumulatorSettings {
        reference_values_from: usize::MAX,
        ..large_batches()
    };
    let mut reserved = Vec::new();
    for settings in [copying_settings, large_batches()] {
        let budget = MemoryBudget::new(4 * LARGE_BATCH);
        let mut acc = Accumulator::new(settings);
        let mut steps = Vec::new();
        for _ in 0..(LARGE_BATCH / 10_000 + 10) {
            append_now(&mut acc, &budget, 1, 0, &value);
            assert_eq!(budget.in_use(), acc.reserved_bytes());
            assert!(acc.buffers_within_reservations());
            steps.push(acc.reserved_bytes());
        }
        assert!(acc.reserved_bytes() > LARGE_BATCH, "a second batch opened");
        let meta = metadata(&[1]);
        let hurried = DrainRules {
            hurry: true,
            ..rules(Instant::now())
        };
        let (drained, _) = acc.drain(1, &meta, &hurried, 4 * LARGE_BATCH, None);
        let batch = &drained[0].payload;
        let referenced = batch
            .pieces()
            .iter()
            .filter(|p| p.as_ptr() == value.as_ptr())
            .count();
        assert!(batch.len() <= LARGE_BATCH);
        if referenced > 0 {
            let records = batch.header().unwrap().record_count as usize;
            assert_eq!(referenced, records, "every value referenced");
        }
        acc.complete(TOPIC, 0, drained[0].batch_id, ack(0), Instant::now());
        drop(drained);
        assert!(
            budget.in_use() > 0,
            "the second batch still holds its bytes"
        );
        reserved.push((steps, referenced > 0));
    }
    assert_eq!(reserved[0].0, reserved[1].0, "the same reservations");
    assert_eq!((reserved[0].1, reserved[1].1), (false, true));
}

#[tokio::test(start_paused = true)]
async fn a_batch_mixing_referenced_and_copied_values_stays_within_its_reservation() {
    let budget = MemoryBudget::new(4 * LARGE_BATCH);
    let mut acc = Accumulator::new(large_batches());
    let large = Bytes::from(vec![b'L'; 10_000]);
    let small = Bytes::from(vec![b's'; 300]);
    let mut opened = 0;
    for i in 0..400 {
        let value = if i % 3 == 0 { &small } else { &large };
        opened += usize::from(append_now(&mut acc, &budget, 1, 0, value));
        assert_eq!(budget.in_use(), acc.reserved_bytes());
        assert!(acc.buffers_within_reservations(), "record {i}");
    }
    assert!(opened >= 2, "batches filled up");
    let meta = metadata(&[1]);
    let hurried = DrainRules {
        hurry: true,
        ..rules(Instant::now())
    };
    let (drained, _) = acc.drain(1, &meta, &hurried, 4 * LARGE_BATCH, None);
    let batch = drained[0].payload.to_bytes();
    durian_core::record::verify_crc(&batch).unwrap();
    let records = durian_core::record::decode_records(&batch).unwrap();
    assert_eq!(records[0].value.as_ref(), Some(&small));
    assert_eq!(records[1].value.as_ref(), Some(&large));
    assert!(batch.len() <= LARGE_BATCH);
}
