//! Which fault a request gets: the plan's rates and a seeded, reproducible draw.

use std::fmt;

/// What the proxy does with one request, and what the client sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Moto's answer.
    Pass,
    /// The service's throttling error in its protocol, with a code the SDK's
    /// `AwsErrorCodeClassifier` retries as throttling (aws-runtime `THROTTLING_ERRORS`): SQS
    /// (awsJson1_0, query compatible) `400 {"__type":"com.amazonaws.sqs#ThrottlingException"}`
    /// with `x-amzn-query-error: ThrottlingException;Sender`; DynamoDB
    /// `400 {"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException"}`; awsQuery (SNS)
    /// `400 <ErrorResponse>` with `Code` `Throttling`.
    Throttle,
    /// `500` `InternalError` (SQS, awsQuery) or `InternalServerError` (DynamoDB), retried by the
    /// SDK's HTTP status classifier.
    InternalError,
    /// The connection closes after the request was read, before it is forwarded: nothing
    /// happened.
    DropBefore,
    /// The request is forwarded and takes effect, then the connection closes before the answer:
    /// the client never learns it (this is what creates duplicates).
    DropAfter,
    /// `SendMessageBatch` / `DeleteMessageBatch` are forwarded, then some `Successful` entries
    /// of the answer are reported in `Failed` with `SenderFault: false` (they did take effect).
    /// Other operations pass; `PublishBatch` (SNS) answers are not rewritten.
    PartialBatch,
}

/// Which faults to inject, how often, and to which operations. Rates are probabilities per
/// request (0.0 … 1.0, summing to at most 1.0); whatever is left passes.
///
/// The fault of a request is drawn from the plan's seed, the request's identity (service,
/// operation and canonical body: JSON keys sorted, random write tokens and loopback ports
/// masked) and how many times that identical request was seen before. The same requests get
/// the same faults in every run, whatever the interleaving of concurrent callers; a retry (same
/// body) gets a fresh draw.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    seed: u64,
    throttle: f64,
    internal_error: f64,
    drop_before: f64,
    drop_after: f64,
    partial_batch: f64,
    operations: Option<Vec<String>>,
    sightings: Option<u64>,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan::none()
    }
}

impl FaultPlan {
    /// Every request passes.
    pub fn none() -> Self {
        FaultPlan::seeded(0)
    }

    /// No fault yet, with this seed; add rates with the builder methods.
    pub fn seeded(seed: u64) -> Self {
        FaultPlan {
            seed,
            throttle: 0.0,
            internal_error: 0.0,
            drop_before: 0.0,
            drop_after: 0.0,
            partial_batch: 0.0,
            operations: None,
            sightings: None,
        }
    }

    fn rate(r: f64) -> f64 {
        if r.is_nan() { 0.0 } else { r.clamp(0.0, 1.0) }
    }

    pub fn throttle(mut self, rate: f64) -> Self {
        self.throttle = Self::rate(rate);
        self
    }

    pub fn internal_error(mut self, rate: f64) -> Self {
        self.internal_error = Self::rate(rate);
        self
    }

    pub fn drop_before(mut self, rate: f64) -> Self {
        self.drop_before = Self::rate(rate);
        self
    }

    pub fn drop_after(mut self, rate: f64) -> Self {
        self.drop_after = Self::rate(rate);
        self
    }

    /// Rate of rewritten batch answers, among `SendMessageBatch` and `DeleteMessageBatch`
    /// requests (other operations pass where this fault is drawn).
    pub fn partial_batch(mut self, rate: f64) -> Self {
        self.partial_batch = Self::rate(rate);
        self
    }

    /// Injects faults only into these operations (`"Publish"`, `"SendMessageBatch"`,
    /// `"PutItem"`…); every other request passes.
    pub fn only(mut self, operations: &[&str]) -> Self {
        self.operations = Some(operations.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// Injects faults only into the first `n` sightings of each request: with `n = 1` and a rate
    /// of 1.0 the first attempt fails and the SDK's retry of it passes.
    pub fn first_sightings(mut self, n: u64) -> Self {
        self.sightings = Some(n);
        self
    }

    /// The fault of the `occurrence`-th (0-based) sighting of the request `key` (a hash of its
    /// service, operation and body) for `operation`. Pure.
    pub fn decide(&self, operation: &str, key: u64, occurrence: u64) -> Fault {
        if let Some(ops) = &self.operations {
            if !ops.iter().any(|o| o == operation) {
                return Fault::Pass;
            }
        }
        if self.sightings.is_some_and(|n| occurrence >= n) {
            return Fault::Pass;
        }
        let u = unit(draw(self.seed, key, occurrence));
        let mut edge = 0.0;
        for (rate, fault) in [
            (self.throttle, Fault::Throttle),
            (self.internal_error, Fault::InternalError),
            (self.drop_before, Fault::DropBefore),
            (self.drop_after, Fault::DropAfter),
            (self.partial_batch, Fault::PartialBatch),
        ] {
            edge += rate;
            if u < edge {
                if fault == Fault::PartialBatch && !is_batch(operation) {
                    return Fault::Pass;
                }
                return fault;
            }
        }
        Fault::Pass
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed={} throttle={} internal_error={} drop_before={} drop_after={} partial_batch={}",
            self.seed,
            self.throttle,
            self.internal_error,
            self.drop_before,
            self.drop_after,
            self.partial_batch
        )?;
        if let Some(ops) = &self.operations {
            write!(f, " only={}", ops.join(","))?;
        }
        if let Some(n) = self.sightings {
            write!(f, " first_sightings={n}")?;
        }
        Ok(())
    }
}

fn is_batch(operation: &str) -> bool {
    matches!(operation, "SendMessageBatch" | "DeleteMessageBatch")
}

/// xorshift64* of a seed mixed from the plan seed, the request key and its occurrence.
pub(super) fn draw(seed: u64, key: u64, occurrence: u64) -> u64 {
    let mut x = seed ^ key.rotate_left(17) ^ occurrence.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    if x == 0 {
        x = 0x2545_F491_4F6C_DD1D;
    }
    // A few rounds so that nearby inputs give unrelated outputs.
    for _ in 0..4 {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
    }
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// A uniform number in [0, 1) from the top 53 bits.
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::faults::codec::fnv1a;

    #[test]
    fn the_same_plan_and_requests_give_the_same_faults_and_the_rates_hold() {
        let plan = FaultPlan::seeded(7)
            .throttle(0.1)
            .internal_error(0.1)
            .drop_before(0.1)
            .drop_after(0.1)
            .partial_batch(0.1);
        let run = |plan: &FaultPlan| -> Vec<Fault> {
            (0..10_000u64)
                .map(|i| plan.decide("SendMessageBatch", fnv1a(&[&i.to_le_bytes()]), i % 3))
                .collect()
        };
        let a = run(&plan);
        assert_eq!(a, run(&plan), "deterministic");
        assert_ne!(
            a,
            run(&FaultPlan {
                seed: 8,
                ..plan.clone()
            }),
            "the seed matters"
        );
        let mut counts: BTreeMap<Fault, usize> = BTreeMap::new();
        for f in &a {
            *counts.entry(*f).or_default() += 1;
        }
        for fault in [
            Fault::Throttle,
            Fault::InternalError,
            Fault::DropBefore,
            Fault::DropAfter,
            Fault::PartialBatch,
        ] {
            let n = counts.get(&fault).copied().unwrap_or(0);
            assert!((800..1200).contains(&n), "{fault:?}: {n} of 10000");
        }
        assert!((4500..5500).contains(&counts[&Fault::Pass]), "{counts:?}");
    }

    #[test]
    fn first_sightings_limits_faults_to_the_first_attempts_of_a_request() {
        let plan = FaultPlan::seeded(2).drop_after(1.0).first_sightings(1);
        assert_eq!(plan.decide("PutItem", 9, 0), Fault::DropAfter);
        assert_eq!(plan.decide("PutItem", 9, 1), Fault::Pass);
        assert_eq!(plan.decide("PutItem", 10, 0), Fault::DropAfter);
        assert!(plan.to_string().ends_with("first_sightings=1"), "{plan}");
    }

    #[test]
    fn a_retry_of_the_same_request_gets_a_fresh_draw() {
        let plan = FaultPlan::seeded(1).throttle(0.5);
        let key = fnv1a(&[b"sqs", b"SendMessageBatch", b"{}"]);
        let faults: Vec<Fault> = (0..64)
            .map(|n| plan.decide("SendMessageBatch", key, n))
            .collect();
        assert!(faults.contains(&Fault::Pass) && faults.contains(&Fault::Throttle));
    }

    #[test]
    fn partial_batch_only_touches_batch_operations_and_only_limits_the_operations() {
        let plan = FaultPlan::seeded(3).partial_batch(1.0);
        assert_eq!(plan.decide("SendMessageBatch", 1, 0), Fault::PartialBatch);
        assert_eq!(plan.decide("DeleteMessageBatch", 1, 0), Fault::PartialBatch);
        assert_eq!(plan.decide("Publish", 1, 0), Fault::Pass);
        let plan = FaultPlan::seeded(3).throttle(1.0).only(&["Publish"]);
        assert_eq!(plan.decide("Publish", 1, 0), Fault::Throttle);
        assert_eq!(plan.decide("GetItem", 1, 0), Fault::Pass);
        assert_eq!(FaultPlan::none().decide("Publish", 1, 0), Fault::Pass);
    }
}
