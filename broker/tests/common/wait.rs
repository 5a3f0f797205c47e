//! Waiting on events instead of sleeping: a bounded poll of an observable,
//! and a signal for "the broker has taken up a request of this API".

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::{ApiKey, ApiVersionsRequest};
use tokio::sync::Notify;
use tracing::field::{Field, Visit};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use super::TestClient;

/// The bounded poll every durian test uses (durian-testkit).
pub use durian_testkit::wait::eventually;

/// Signals each time the broker starts serving a request of one API.
///
/// It listens to the broker's per-request trace event (emitted by the
/// dispatcher once the request header decoded, right before the handler
/// runs) through a subscriber installed for the current thread. That
/// covers the broker only on a current-thread runtime (`#[tokio::test]`'s
/// default), where the broker's connection tasks run on the test's thread.
/// There it also means more than "arrived": the test's task cannot run
/// again until the connection task yields, and the dispatch path from the
/// event into the handler never yields, so when [`Served::wait`] returns
/// the handler has run up to its first real wait (for a long-poll Fetch
/// on an empty partition: parked, waiting for data).
///
/// tracing caches per call site whether any subscriber wants its events,
/// and a call site first hit by another test's thread while this watch is
/// being installed can keep a stale "nobody" (a race in tracing-core), so
/// [`Served::watch`] proves the watch works before handing it out.
pub struct Served {
    seen: Arc<Notify>,
    any: Arc<AtomicBool>,
    _subscriber: DefaultGuard,
}

impl Served {
    /// Starts watching for requests of `api` (not ApiVersions) on this
    /// thread, until dropped. Returns once an ApiVersions request sent
    /// through `client` was seen, so the watch is known to be live.
    pub async fn watch(api: ApiKey, client: &mut TestClient) -> Served {
        assert_ne!(api, ApiKey::ApiVersions, "ApiVersions is the probe");
        let seen = Arc::new(Notify::new());
        let any = Arc::new(AtomicBool::new(false));
        let layer = ServedLayer {
            api: format!("{api:?}"),
            seen: seen.clone(),
            any: any.clone(),
        };
        let subscriber = tracing_subscriber::registry().with(layer);
        let served = Served {
            seen,
            any,
            _subscriber: tracing::subscriber::set_default(subscriber),
        };
        eventually(
            Duration::from_secs(10),
            "the request watch to see a probe request",
            async || {
                // Undoes a stale cached "nobody listens" (see above).
                tracing::callsite::rebuild_interest_cache();
                let answer = client.call(&ApiVersionsRequest::default(), 3).await;
                assert_eq!(answer.error_code, 0);
                // The answer came after the event, on this very thread.
                served.any.swap(false, Ordering::SeqCst).then_some(())
            },
        )
        .await;
        served
    }

    /// Waits until a request of the watched API has been taken up since
    /// the watch started or the last `wait` returned; panics after `within`.
    pub async fn wait(&self, within: Duration) {
        tokio::time::timeout(within, self.seen.notified())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the broker did not take up the request within {within:?} (did its \
                     per-request \"request\" trace event change?)"
                )
            });
    }
}

struct ServedLayer {
    api: String,
    seen: Arc<Notify>,
    /// Set by every request event, whatever its API.
    any: Arc<AtomicBool>,
}

impl<S: Subscriber> Layer<S> for ServedLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if !event.metadata().target().starts_with("durian_broker") {
            return;
        }
        let mut fields = RequestFields::default();
        event.record(&mut fields);
        if fields.message.as_deref() != Some("request") {
            return;
        }
        self.any.store(true, Ordering::SeqCst);
        if fields.api.as_ref() == Some(&self.api) {
            // Stores a permit when nobody waits yet, so no request is missed.
            self.seen.notify_one();
        }
    }
}

/// The two fields of the dispatcher's per-request event this watch reads.
#[derive(Default)]
struct RequestFields {
    message: Option<String>,
    api: Option<String>,
}

impl Visit for RequestFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = Some(format!("{value:?}")),
            "api" => self.api = Some(format!("{value:?}")),
            _ => {}
        }
    }
}
