//! Sending one transactional request until it succeeds, fails for good,
//! or runs out of time: the coordinator is looked up again when it moved,
//! transient errors are retried after a backoff, and every other error is
//! classified (classify.rs) for the caller.

use std::time::Duration;

use durian_core::backoff::Backoff;
use durian_core::{Client, CoordinatorKind, Error, Target};
use kafka_protocol::protocol::{Request, VersionRange};
use tokio::time::Instant;

use super::classify::{classify, ErrorClass, TxnRequest};

/// Why a transactional request did not succeed.
#[derive(Clone, Debug)]
pub(crate) enum RpcFailure {
    /// Still failing (transiently) at the deadline; the last error, if any.
    Timeout(Option<Error>),
    /// The transaction cannot commit.
    Abortable(Error),
    /// A newer producer took over the transactional id.
    Fenced(Error),
    /// The producer cannot go on.
    Fatal(Error),
}

/// Where a request goes and how long it may keep trying.
pub(crate) struct Call<'a> {
    pub(crate) client: &'a Client,
    pub(crate) request: TxnRequest,
    /// The coordinator: transaction (transactional id) or group (group id).
    pub(crate) kind: CoordinatorKind,
    pub(crate) key: &'a str,
    /// The highest version to use (transactions V1 caps some APIs).
    pub(crate) max_version: i16,
    pub(crate) deadline: Instant,
    pub(crate) backoff: (Duration, Duration),
}

impl Call<'_> {
    /// Sends `request` until `error_of` finds no error in the response.
    pub(crate) async fn run<R, F>(&self, request: R, error_of: F) -> Result<R::Response, RpcFailure>
    where
        R: Request + Clone,
        F: Fn(&R::Response) -> Option<Error>,
    {
        let mut backoff = Backoff::new(self.backoff.0, self.backoff.1);
        let target = Target::Coordinator {
            kind: self.kind,
            key: self.key.to_owned(),
        };
        loop {
            let error = match self.send_once(&target, &request).await {
                Ok(response) => match error_of(&response) {
                    None => return Ok(response),
                    Some(error) => {
                        // Body errors are not reported by the client itself.
                        self.client.report_error(&target, &error);
                        error
                    }
                },
                Err(error) => error,
            };
            let class = match error.kafka_code() {
                Some(code) => classify(self.request, code),
                None if error.is_retriable() => ErrorClass::Retry,
                None => ErrorClass::Fatal,
            };
            match class {
                ErrorClass::FindCoordinator => {
                    self.client.invalidate_coordinator(self.kind, self.key);
                }
                ErrorClass::Retry => {}
                ErrorClass::Abortable => return Err(RpcFailure::Abortable(error)),
                ErrorClass::Fenced => return Err(RpcFailure::Fenced(error)),
                ErrorClass::Fatal => return Err(RpcFailure::Fatal(error)),
            }
            let delay = backoff.next_delay();
            tracing::debug!(request = ?self.request, %error, ?delay, "transactional request failed; retrying");
            if Instant::now() + delay >= self.deadline {
                return Err(RpcFailure::Timeout(Some(error)));
            }
            tokio::time::sleep(delay).await;
        }
    }

    async fn send_once<R: Request>(
        &self,
        target: &Target,
        request: &R,
    ) -> Result<R::Response, Error> {
        let api = durian_core::connection::versions::api_key_of::<R>()?;
        let timeout = self
            .client
            .config()
            .request_timeout
            .min(self.deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1));
        let result = async {
            let connection = self
                .client
                .connection_for(target, durian_core::TrafficClass::for_api(api))
                .await?;
            let ours = VersionRange {
                min: R::VERSIONS.min,
                max: R::VERSIONS.max.min(self.max_version),
            };
            let version = connection.versions().negotiate(api, ours)?;
            connection
                .send_with_version(request, version, timeout)
                .await
        }
        .await;
        if let Err(error) = &result {
            self.client.report_error(target, error);
        }
        result
    }
}
