//! Error codes inside responses, counted per API and code
//! (`durian_broker_response_errors_total{api,code}`).
//!
//! A response without errors costs the walk of its error fields and
//! nothing else: zeros are skipped before any counter is touched. A
//! non-zero code costs one relaxed atomic increment in a row of counters
//! per API, indexed by code. A row is allocated the first time its API
//! answers with an error, so an API that never fails holds one empty
//! `OnceLock`, and the page lists only the (API, code) pairs seen.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use durian_core::error::KAFKA_CODES;
use kafka_protocol::messages::ApiKey;

use super::response_codes::ErrorCodes;
use super::API_SLOTS;

/// The lowest code of the table (UNKNOWN_SERVER_ERROR, -1): slot 0.
const FIRST_CODE: i16 = -1;

/// The label of codes outside durian's table, as the client's
/// `durian.client.errors` metric names them.
const UNKNOWN_CODE: &str = "UNKNOWN_CODE";

/// Error counters, one lazily allocated row per API key.
#[derive(Debug)]
pub struct ResponseErrors {
    rows: [OnceLock<Box<[AtomicU64]>>; API_SLOTS],
}

impl Default for ResponseErrors {
    fn default() -> Self {
        ResponseErrors {
            rows: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

/// A row's slot for `code`: its place in the table, which starts at
/// [`FIRST_CODE`] with no gaps, or the last slot (codes newer than durian).
fn slot(code: i16) -> usize {
    usize::try_from(i32::from(code) - i32::from(FIRST_CODE))
        .ok()
        .filter(|&i| i < KAFKA_CODES.len())
        .unwrap_or(KAFKA_CODES.len())
}

impl ResponseErrors {
    /// Counts every non-zero error code of `response`, an answer of `api`.
    pub fn count<R: ErrorCodes>(&self, api: ApiKey, response: &R) {
        response.error_codes(&mut |code| {
            if code != 0 {
                self.count_code(api, code);
            }
        });
    }

    /// Counts one occurrence of `code` in an answer of `api`.
    pub fn count_code(&self, api: ApiKey, code: i16) {
        let Some(row) = usize::try_from(api as i16)
            .ok()
            .and_then(|i| self.rows.get(i))
        else {
            return;
        };
        let row = row.get_or_init(|| (0..=KAFKA_CODES.len()).map(|_| AtomicU64::new(0)).collect());
        if let Some(counter) = row.get(slot(code)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Occurrences of `code` counted in answers of `api` so far (codes
    /// outside durian's table share one count); the page reads rows whole.
    #[cfg(test)]
    pub fn get(&self, api: ApiKey, code: i16) -> u64 {
        usize::try_from(api as i16)
            .ok()
            .and_then(|i| self.rows.get(i))
            .and_then(OnceLock::get)
            .and_then(|row| row.get(slot(code)))
            .map_or(0, |counter| counter.load(Ordering::Relaxed))
    }

    /// Writes one `durian_broker_response_errors_total` line per (API,
    /// code) counted at least once, in API key and code order.
    pub fn render(&self, page: &mut String) {
        for (key, row) in self.rows.iter().enumerate() {
            let Some(row) = row.get() else { continue };
            let Some(api) = i16::try_from(key)
                .ok()
                .and_then(|k| ApiKey::try_from(k).ok())
            else {
                continue;
            };
            for (index, counter) in row.iter().enumerate() {
                let count = counter.load(Ordering::Relaxed);
                if count == 0 {
                    continue;
                }
                // Names come from the table (ASCII capitals and '_'), so
                // neither label needs escaping.
                let name = KAFKA_CODES.get(index).map_or(UNKNOWN_CODE, |row| row.name);
                let _ = writeln!(
                    page,
                    "durian_broker_response_errors_total{{api=\"{api:?}\",code=\"{name}\"}} {count}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::messages::ProduceResponse;

    fn produce_answer(codes: &[i16]) -> ProduceResponse {
        ProduceResponse::default().with_responses(vec![TopicProduceResponse::default()
            .with_partition_responses(
                codes
                    .iter()
                    .map(|&code| PartitionProduceResponse::default().with_error_code(code))
                    .collect(),
            )])
    }

    #[test]
    fn only_non_zero_codes_are_counted_one_per_occurrence() {
        let errors = ResponseErrors::default();
        errors.count(ApiKey::Produce, &produce_answer(&[0, 0, 0]));
        assert!(
            errors.rows[0].get().is_none(),
            "no row before the first error"
        );
        let mut page = String::new();
        errors.render(&mut page);
        assert!(page.is_empty(), "{page}");

        errors.count(ApiKey::Produce, &produce_answer(&[6, 0, 6, 3]));
        assert_eq!(errors.get(ApiKey::Produce, 6), 2);
        assert_eq!(errors.get(ApiKey::Produce, 3), 1);
        assert_eq!(errors.get(ApiKey::Produce, 0), 0);
        assert_eq!(errors.get(ApiKey::Fetch, 6), 0);
    }

    #[test]
    fn codes_render_by_name_and_unknown_ones_share_a_line() {
        let errors = ResponseErrors::default();
        errors.count_code(ApiKey::Fetch, 1);
        errors.count_code(ApiKey::Fetch, -1);
        errors.count_code(ApiKey::Fetch, 30_000);
        errors.count_code(ApiKey::Fetch, -7);
        let mut page = String::new();
        errors.render(&mut page);
        assert_eq!(
            page,
            "durian_broker_response_errors_total{api=\"Fetch\",code=\"UNKNOWN_SERVER_ERROR\"} 1\n\
             durian_broker_response_errors_total{api=\"Fetch\",code=\"OFFSET_OUT_OF_RANGE\"} 1\n\
             durian_broker_response_errors_total{api=\"Fetch\",code=\"UNKNOWN_CODE\"} 2\n"
        );
    }

    #[test]
    fn the_code_table_has_no_gaps() {
        for (index, row) in KAFKA_CODES.iter().enumerate() {
            assert_eq!(slot(row.code), index, "{}", row.name);
        }
    }
}
