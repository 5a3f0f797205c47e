//! ListTransactions (key 66), versions 0–2.
//!
//! Every transactional id this node coordinates, filtered by state names
//! (unknown names come back in `unknown_state_filters`), producer ids,
//! v1's duration (transactions open at least that many milliseconds) and
//! v2's transactional id pattern (a regular expression the whole id must
//! match; an invalid one is INVALID_REGULAR_EXPRESSION).
//!
//! Checks, as Kafka: only ids the principal may DESCRIBE are listed.

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse, ProducerId};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{text, versions, RequestContext, TxnContext};
use crate::clock::now_ms;
use crate::txn::state::TxnState as State;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 2);

/// Answers ListTransactions.
pub async fn handle(
    txn: &TxnContext<'_>,
    request: ListTransactionsRequest,
    ctx: &RequestContext,
) -> ListTransactionsResponse {
    let access = txn.access(ctx);
    let mut states = Vec::new();
    let mut unknown = Vec::new();
    for filter in &request.state_filters {
        match State::from_name(filter) {
            Some(state) => states.push(state),
            None => unknown.push(filter.clone()),
        }
    }
    let pattern = match request
        .transactional_id_pattern
        .as_ref()
        .filter(|p| ctx.version >= 2 && !p.is_empty())
    {
        None => None,
        Some(p) => match regex::Regex::new(&format!("^(?:{})$", p.as_str())) {
            Ok(re) => Some(re),
            Err(_) => {
                return ListTransactionsResponse::default()
                    .with_error_code(ResponseError::InvalidRegularExpression.code())
            }
        },
    };
    let now = now_ms();
    let listed = txn
        .transactions
        .list()
        .into_iter()
        .filter(|m| states.is_empty() || states.contains(&m.state))
        .filter(|m| {
            request.producer_id_filters.is_empty()
                || request
                    .producer_id_filters
                    .contains(&ProducerId(m.producer_id))
        })
        .filter(|m| {
            ctx.version < 1
                || request.duration_filter < 0
                || (m.start_ms >= 0 && now.saturating_sub(m.start_ms) >= request.duration_filter)
        })
        .filter(|m| {
            pattern
                .as_ref()
                .is_none_or(|re| re.is_match(&m.transactional_id))
        })
        .filter(|m| txn.coordinates(&m.transactional_id, ctx.node_id))
        .filter(|m| access.transactional_id(AclOperation::Describe, &m.transactional_id))
        .map(|m| {
            TransactionState::default()
                .with_transactional_id(kafka_protocol::messages::TransactionalId(text(
                    m.transactional_id,
                )))
                .with_producer_id(ProducerId(m.producer_id))
                .with_transaction_state(text(m.state.name()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(listed)
}
