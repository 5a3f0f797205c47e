//! Fault rules and request hooks of a [`super::Cluster`].
//!
//! Every request on every node passes through [`Faults`] (it is the
//! nodes' [`RequestInterceptor`]) after its header is decoded:
//!
//! ```text
//!  request ──► hooks (see everything) ──► first matching delay rule ──► first matching action rule
//!                                            (wait D)                     fail with a code │ drop the
//!                                                                         response │ close │ serve
//! ```
//!
//! A rule matches a node (or any node) and an API (or any API), and fires
//! a number of times, forever, or with a probability drawn from the
//! cluster's seeded generator. Rules are consulted in the order they were
//! added; a fired rule counts down and stops matching at zero.
//!
//! ```no_run
//! # async fn demo(cluster: &durian_broker::testing::Cluster) {
//! use std::time::Duration;
//! use kafka_protocol::messages::ApiKey;
//! use kafka_protocol::ResponseError;
//!
//! let faults = cluster.faults();
//! faults.on(1).api(ApiKey::Produce).fail_next(3, ResponseError::NotLeaderOrFollower);
//! faults.on(2).api(ApiKey::Fetch).delay_next(1, Duration::from_millis(500));
//! faults.any_node().api(ApiKey::Produce).drop_response_next(1);
//! let seen = faults.record();
//! // ... run a client ...
//! assert!(seen.count(Some(ApiKey::Produce), None) > 0);
//! # }
//! ```

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::server::intercept::{Decision, Interception, RequestInfo, RequestInterceptor};

/// What a fault rule does to a request it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this error in every per-item error field, without
    /// applying the request. APIs without an error-response builder
    /// (see `handlers::error_reply`) get their connection closed instead.
    Fail(ResponseError),
    /// Apply the request, then answer with this error as `Fail` does: the
    /// data is written but the client is told it failed (Kafka's
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND, or REQUEST_TIMED_OUT for acks=all).
    FailAfterApply(ResponseError),
    /// Hold the request this long, then serve it (requests behind it on
    /// the same connection wait too, as they would on a slow broker).
    Delay(Duration),
    /// Apply the request, then close the connection without answering:
    /// the client cannot know it succeeded and retries (the classic
    /// duplicate maker).
    DropResponse,
    /// Close the connection without applying the request.
    CloseConnection,
}

/// How often a rule fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Times {
    /// The next `n` matching requests.
    Next(u64),
    /// Every matching request until the rule is removed.
    Always,
    /// Each matching request with this probability (0.0–1.0), drawn from
    /// the cluster's seeded generator, until the rule is removed.
    Randomly(f64),
}

/// Names a rule, to remove it or ask how often it fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleId(u64);

/// Names a hook, to remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HookId(u64);

type Hook = Arc<dyn Fn(&RequestInfo) + Send + Sync>;

struct Rule {
    id: RuleId,
    node: Option<i32>,
    api: Option<ApiKey>,
    fault: Fault,
    times: Times,
    fired: u64,
}

impl Rule {
    fn matches(&self, request: &RequestInfo) -> bool {
        self.node.is_none_or(|n| n == request.node_id)
            && self.api.is_none_or(|a| a == request.api_key)
            && !matches!(self.times, Times::Next(0))
    }
}

struct FaultState {
    rules: Vec<Rule>,
    hooks: Vec<(HookId, Hook)>,
    answer_hooks: Vec<(HookId, Hook)>,
    next_id: u64,
    rng: StdRng,
}

/// The fault rules and hooks of one cluster; see the module docs.
pub struct Faults {
    state: Mutex<FaultState>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Faults")
            .field("rules", &state.rules.len())
            .field("hooks", &state.hooks.len())
            .finish()
    }
}

impl Faults {
    /// No rules, no hooks; random rules draw from a generator seeded with `seed`.
    pub fn new(seed: u64) -> Faults {
        Faults {
            state: Mutex::new(FaultState {
                rules: Vec::new(),
                hooks: Vec::new(),
                answer_hooks: Vec::new(),
                next_id: 0,
                rng: StdRng::seed_from_u64(seed),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        // A panicking hook runs outside the lock; the state stays consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rules for requests arriving at `node`.
    pub fn on(&self, node: i32) -> FaultTarget<'_> {
        FaultTarget {
            faults: self,
            node: Some(node),
            api: None,
        }
    }

    /// Rules for requests arriving at any node.
    pub fn any_node(&self) -> FaultTarget<'_> {
        FaultTarget {
            faults: self,
            node: None,
            api: None,
        }
    }

    /// Adds a rule: `fault` for requests matching `node` and `api` (`None`
    /// matches all), `times` times.
    pub fn add(
        &self,
        node: Option<i32>,
        api: Option<ApiKey>,
        fault: Fault,
        times: Times,
    ) -> RuleId {
        let mut state = self.lock();
        let id = RuleId(state.next_id);
        state.next_id += 1;
        state.rules.push(Rule {
            id,
            node,
            api,
            fault,
            times,
            fired: 0,
        });
        id
    }

    /// Removes a rule (a no-op if it is gone).
    pub fn remove(&self, rule: RuleId) {
        self.lock().rules.retain(|r| r.id != rule);
    }

    /// Removes every rule; hooks stay.
    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// How many requests `rule` has acted on so far (0 if it was removed).
    pub fn fired(&self, rule: RuleId) -> u64 {
        self.lock()
            .rules
            .iter()
            .find(|r| r.id == rule)
            .map_or(0, |r| r.fired)
    }

    /// Calls `hook` with every request on every node, before any rule
    /// acts on it. Hooks run on the connection's task: keep them quick.
    pub fn hook(&self, hook: impl Fn(&RequestInfo) + Send + Sync + 'static) -> HookId {
        let mut state = self.lock();
        let id = HookId(state.next_id);
        state.next_id += 1;
        state.hooks.push((id, Arc::new(hook)));
        id
    }

    /// Calls `hook` whenever a node has answered a request (just before
    /// the response is written), e.g. to check that a client waited for
    /// one node's answer before turning to another. Requests whose
    /// connection a rule closed are never answered.
    pub fn answer_hook(&self, hook: impl Fn(&RequestInfo) + Send + Sync + 'static) -> HookId {
        let mut state = self.lock();
        let id = HookId(state.next_id);
        state.next_id += 1;
        state.answer_hooks.push((id, Arc::new(hook)));
        id
    }

    /// Removes a hook (of either kind).
    pub fn remove_hook(&self, hook: HookId) {
        let mut state = self.lock();
        state.hooks.retain(|(id, _)| *id != hook);
        state.answer_hooks.retain(|(id, _)| *id != hook);
    }

    /// A hook that records every request from now on (remove it with
    /// [`Faults::remove_hook`] and [`RequestLog::hook_id`]).
    pub fn record(&self) -> RequestLog {
        let entries: Arc<Mutex<Vec<RequestInfo>>> = Arc::default();
        let recorded = entries.clone();
        let hook = self.hook(move |request| {
            recorded
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(request.clone());
        });
        RequestLog { entries, hook }
    }

    fn decide(&self, request: &RequestInfo) -> Decision {
        let FaultState { rules, rng, .. } = &mut *self.lock();
        let mut decision = Decision::SERVE;
        let mut acted = false;
        for rule in rules.iter_mut().filter(|r| r.matches(request)) {
            let is_delay = matches!(rule.fault, Fault::Delay(_));
            if (is_delay && decision.delay.is_some()) || (!is_delay && acted) {
                continue;
            }
            let fires = match rule.times {
                Times::Next(_) | Times::Always => true,
                Times::Randomly(p) => rng.random::<f64>() < p,
            };
            if !fires {
                continue;
            }
            if let Times::Next(n) = &mut rule.times {
                *n -= 1;
            }
            rule.fired += 1;
            match rule.fault {
                Fault::Delay(d) => decision.delay = Some(d),
                Fault::Fail(error) => decision.action = Interception::Fail(error.code()),
                Fault::FailAfterApply(error) => {
                    decision.action = Interception::ApplyThenFail(error.code())
                }
                Fault::DropResponse => decision.action = Interception::DropResponse,
                Fault::CloseConnection => decision.action = Interception::Close,
            }
            acted |= !is_delay;
        }
        decision
    }
}

impl RequestInterceptor for Faults {
    fn intercept(&self, request: &RequestInfo) -> Decision {
        // Hooks run outside the lock so a hook may add or remove rules.
        let hooks: Vec<Hook> = self.lock().hooks.iter().map(|(_, h)| h.clone()).collect();
        for hook in hooks {
            hook(request);
        }
        self.decide(request)
    }

    fn answered(&self, request: &RequestInfo) {
        let hooks: Vec<Hook> = self
            .lock()
            .answer_hooks
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        for hook in hooks {
            hook(request);
        }
    }
}

/// Where the next rule applies: a node (or all) and an API (or all).
#[derive(Debug)]
pub struct FaultTarget<'a> {
    faults: &'a Faults,
    node: Option<i32>,
    api: Option<ApiKey>,
}

impl FaultTarget<'_> {
    /// Only requests of this API.
    pub fn api(mut self, api: ApiKey) -> Self {
        self.api = Some(api);
        self
    }

    /// Adds a rule for this target.
    pub fn rule(self, fault: Fault, times: Times) -> RuleId {
        self.faults.add(self.node, self.api, fault, times)
    }

    /// The next `count` requests fail with `error`, unapplied.
    pub fn fail_next(self, count: u64, error: ResponseError) -> RuleId {
        self.rule(Fault::Fail(error), Times::Next(count))
    }

    /// The next `count` requests are applied, then answered with `error`.
    pub fn fail_after_apply_next(self, count: u64, error: ResponseError) -> RuleId {
        self.rule(Fault::FailAfterApply(error), Times::Next(count))
    }

    /// The next `count` requests wait `delay` first.
    pub fn delay_next(self, count: u64, delay: Duration) -> RuleId {
        self.rule(Fault::Delay(delay), Times::Next(count))
    }

    /// The next `count` requests are applied but their responses dropped
    /// (the connection is closed instead).
    pub fn drop_response_next(self, count: u64) -> RuleId {
        self.rule(Fault::DropResponse, Times::Next(count))
    }

    /// The next `count` requests close the connection, unapplied.
    pub fn close_connection_next(self, count: u64) -> RuleId {
        self.rule(Fault::CloseConnection, Times::Next(count))
    }

    /// Each request's response is dropped with `probability` (seeded).
    pub fn drop_responses_randomly(self, probability: f64) -> RuleId {
        self.rule(Fault::DropResponse, Times::Randomly(probability))
    }

    /// Each request fails with `error` with `probability` (seeded).
    pub fn fail_randomly(self, probability: f64, error: ResponseError) -> RuleId {
        self.rule(Fault::Fail(error), Times::Randomly(probability))
    }
}

/// Requests seen by a [`Faults::record`] hook.
#[derive(Debug, Clone)]
pub struct RequestLog {
    entries: Arc<Mutex<Vec<RequestInfo>>>,
    hook: HookId,
}

impl RequestLog {
    /// The hook that fills this log.
    pub fn hook_id(&self) -> HookId {
        self.hook
    }

    /// Everything recorded so far, in arrival order.
    pub fn entries(&self) -> Vec<RequestInfo> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many recorded requests match `api` and `node` (`None` matches all).
    pub fn count(&self, api: Option<ApiKey>, node: Option<i32>) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|r| api.is_none_or(|a| a == r.api_key) && node.is_none_or(|n| n == r.node_id))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(node: i32, api: ApiKey) -> RequestInfo {
        RequestInfo {
            node_id: node,
            api_key: api,
            api_version: 0,
            correlation_id: 1,
            client_id: None,
        }
    }

    #[test]
    fn fail_next_fires_exactly_k_times_on_its_node_and_api() {
        let faults = Faults::new(0);
        let rule = faults
            .on(1)
            .api(ApiKey::Produce)
            .fail_next(2, ResponseError::NotLeaderOrFollower);
        let code = ResponseError::NotLeaderOrFollower.code();
        assert_eq!(
            faults.intercept(&request(0, ApiKey::Produce)),
            Decision::SERVE
        );
        assert_eq!(
            faults.intercept(&request(1, ApiKey::Fetch)),
            Decision::SERVE
        );
        for _ in 0..2 {
            let decision = faults.intercept(&request(1, ApiKey::Produce));
            assert_eq!(decision.action, Interception::Fail(code));
        }
        assert_eq!(
            faults.intercept(&request(1, ApiKey::Produce)),
            Decision::SERVE
        );
        assert_eq!(faults.fired(rule), 2);
    }

    #[test]
    fn a_delay_combines_with_one_action() {
        let faults = Faults::new(0);
        faults.any_node().delay_next(1, Duration::from_millis(5));
        faults.any_node().drop_response_next(1);
        faults.any_node().close_connection_next(1);
        let first = faults.intercept(&request(3, ApiKey::Metadata));
        assert_eq!(first.delay, Some(Duration::from_millis(5)));
        assert_eq!(first.action, Interception::DropResponse);
        let second = faults.intercept(&request(3, ApiKey::Metadata));
        assert_eq!(second.delay, None);
        assert_eq!(second.action, Interception::Close);
    }

    #[test]
    fn random_rules_repeat_for_a_seed() {
        let pattern = |seed| {
            let faults = Faults::new(seed);
            faults.any_node().drop_responses_randomly(0.5);
            (0..64)
                .map(|_| faults.intercept(&request(0, ApiKey::Produce)).action)
                .collect::<Vec<_>>()
        };
        assert_eq!(pattern(9), pattern(9));
        assert_ne!(pattern(9), pattern(10));
        assert!(pattern(9).contains(&Interception::Serve));
        assert!(pattern(9).contains(&Interception::DropResponse));
    }

    #[test]
    fn fail_randomly_fails_only_its_target_at_about_its_rate_and_repeats_for_a_seed() {
        let error = ResponseError::CoordinatorLoadInProgress;
        let outcomes = |seed| {
            let faults = Faults::new(seed);
            let rule = faults.on(1).api(ApiKey::Fetch).fail_randomly(0.25, error);
            let mut failed = 0u64;
            let mut actions = Vec::new();
            for _ in 0..400 {
                // Other nodes and APIs never match, so they draw nothing
                // from the generator and are always served.
                assert_eq!(
                    faults.intercept(&request(0, ApiKey::Fetch)),
                    Decision::SERVE
                );
                assert_eq!(
                    faults.intercept(&request(1, ApiKey::Produce)),
                    Decision::SERVE
                );
                let decision = faults.intercept(&request(1, ApiKey::Fetch));
                assert_eq!(decision.delay, None);
                match decision.action {
                    Interception::Fail(code) => {
                        assert_eq!(code, error.code());
                        failed += 1;
                    }
                    other => assert_eq!(other, Interception::Serve),
                }
                actions.push(decision.action);
            }
            // The rule never runs out, and counts exactly the failures.
            assert_eq!(faults.fired(rule), failed);
            (failed, actions)
        };
        let (failed, actions) = outcomes(7);
        // 400 draws at p = 0.25: 100 expected, sd about 8.7; the seed pins
        // the value, the wide bounds only guard the rate's meaning.
        assert!((60..=140).contains(&failed), "{failed} of 400 failed");
        assert_eq!(
            outcomes(7).1,
            actions,
            "the same seed, the same requests fail"
        );
        assert_ne!(outcomes(8).1, actions, "another seed, other requests fail");
    }

    #[test]
    fn fail_randomly_at_the_extremes_never_or_always_fires() {
        let faults = Faults::new(3);
        let never = faults
            .any_node()
            .fail_randomly(0.0, ResponseError::NotLeaderOrFollower);
        for _ in 0..200 {
            assert_eq!(
                faults.intercept(&request(2, ApiKey::Produce)),
                Decision::SERVE
            );
        }
        assert_eq!(faults.fired(never), 0);
        faults.remove(never);
        let always = faults
            .any_node()
            .fail_randomly(1.0, ResponseError::NotLeaderOrFollower);
        for _ in 0..200 {
            let decision = faults.intercept(&request(2, ApiKey::Produce));
            assert_eq!(
                decision.action,
                Interception::Fail(ResponseError::NotLeaderOrFollower.code())
            );
        }
        assert_eq!(faults.fired(always), 200);
    }

    #[test]
    fn hooks_see_every_request_and_can_be_removed() {
        let faults = Faults::new(0);
        let log = faults.record();
        faults.intercept(&request(0, ApiKey::Produce));
        faults.intercept(&request(2, ApiKey::Fetch));
        assert_eq!(log.entries().len(), 2);
        assert_eq!(log.count(Some(ApiKey::Fetch), Some(2)), 1);
        assert_eq!(log.count(None, Some(1)), 0);
    }
}
