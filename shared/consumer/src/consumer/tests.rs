use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use triage_core::fakes::{finding, finding_about};
use triage_core::{TicketAction, TicketEvent};

use super::*;
use crate::links::MemoryLinks;

/// A ticket system in memory: tickets with their comments and state, and failures on demand.
#[derive(Default)]
struct Tracker {
    tickets: Mutex<Vec<Ticket>>,
    fail_next: Mutex<usize>,
}

#[derive(Debug, Clone)]
struct Ticket {
    key: String,
    fingerprint: String,
    previous: Option<String>,
    comments: usize,
    closed: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("tracker unavailable")]
struct Down;

impl Tracker {
    fn fail(&self) -> Result<(), Down> {
        let mut n = self.fail_next.lock().map_err(|_| Down)?;
        if *n > 0 {
            *n -= 1;
            return Err(Down);
        }
        Ok(())
    }

    fn tickets(&self) -> Vec<Ticket> {
        self.tickets.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn with<R>(&self, key: &str, f: impl FnOnce(&mut Ticket) -> R) -> Result<R, Down> {
        let mut tickets = self.tickets.lock().map_err(|_| Down)?;
        tickets.iter_mut().find(|t| t.key == key).map(f).ok_or(Down)
    }
}

impl TicketSystem for Tracker {
    type Error = Down;
    const NAME: &'static str = "tracker";

    async fn find_open(&self, fp: &Fingerprint, _: Deadline) -> Result<Option<String>, Down> {
        self.fail()?;
        Ok(self
            .tickets()
            .into_iter()
            .rev()
            .find(|t| t.fingerprint == fp.as_str() && !t.closed)
            .map(|t| t.key))
    }

    async fn create(
        &self,
        e: &TicketEvent,
        previous: Option<&str>,
        _: Deadline,
    ) -> Result<String, Down> {
        self.fail()?;
        let mut tickets = self.tickets.lock().map_err(|_| Down)?;
        let key = format!("SEC-{}", tickets.len() + 1);
        tickets.push(Ticket {
            key: key.clone(),
            fingerprint: e.fingerprint.as_str().to_owned(),
            previous: previous.map(str::to_owned),
            comments: 0,
            closed: false,
        });
        Ok(key)
    }

    async fn comment(&self, key: &str, _: &TicketEvent, _: Deadline) -> Result<(), Down> {
        self.fail()?;
        self.with(key, |t| t.comments += 1)
    }

    async fn close(&self, key: &str, _: &TicketEvent, _: Deadline) -> Result<(), Down> {
        self.fail()?;
        self.with(key, |t| t.closed = true)
    }
}

fn consumer() -> Consumer<Tracker, MemoryLinks> {
    Consumer::new(Tracker::default(), MemoryLinks::default())
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(60))
}

fn event(action: TicketAction, sequence: u64) -> TicketEvent {
    TicketEvent::new(action, finding("restricted-ssh"), sequence)
}

fn sqs(messages: &[(&str, &TicketEvent)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, e)| {
            json!({
                "messageId": id,
                "body": e.body().unwrap_or_default(),
                "attributes": {"MessageGroupId": e.fingerprint.as_str(), "ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
            })
        })
        .collect();
    json!({ "Records": records })
}

async fn run(
    c: &Consumer<Tracker, MemoryLinks>,
    messages: &[(&str, &TicketEvent)],
) -> (Vec<String>, Report) {
    let (response, report) = c
        .handle(sqs(messages), deadline())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (
        response
            .failed_ids()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        report,
    )
}

#[tokio::test]
async fn open_update_resolve_make_one_ticket_commented_once_and_closed() {
    let c = consumer();
    let (open, update, resolve) = (
        event(TicketAction::Open, 1),
        event(TicketAction::Update, 2),
        event(TicketAction::Resolve, 3),
    );
    let (failed, report) = run(&c, &[("m1", &open), ("m2", &update), ("m3", &resolve)]).await;
    assert!(failed.is_empty());
    assert_eq!((report.created, report.commented, report.closed), (1, 1, 1));
    let tickets = c.system().tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!((tickets[0].comments, tickets[0].closed), (1, true));

    // A replay of all three (a redrive from the DLQ, SQS's copy) changes nothing.
    let (failed, report) = run(&c, &[("m4", &open), ("m5", &update), ("m6", &resolve)]).await;
    assert!(failed.is_empty());
    assert_eq!(report.already_applied, 3);
    assert_eq!(c.system().tickets().len(), 1);
    assert_eq!(c.system().tickets()[0].comments, 1);
}

#[tokio::test]
async fn an_open_after_a_close_creates_a_new_ticket_naming_the_closed_one() {
    let c = consumer();
    run(
        &c,
        &[
            ("1", &event(TicketAction::Open, 1)),
            ("2", &event(TicketAction::Resolve, 2)),
        ],
    )
    .await;
    run(&c, &[("3", &event(TicketAction::Open, 5))]).await;
    let tickets = c.system().tickets();
    assert_eq!(tickets.len(), 2);
    assert_eq!(tickets[1].previous.as_deref(), Some("SEC-1"));
    assert!(!tickets[1].closed);
}

#[tokio::test]
async fn with_the_links_lost_an_open_finds_its_ticket_instead_of_creating_a_second() {
    let c = consumer();
    let open = event(TicketAction::Open, 1);
    run(&c, &[("1", &open)]).await;
    c.links().clear(); // the create's link never written, or a new table
    let (_, report) = run(&c, &[("2", &open)]).await;
    assert_eq!(report.adopted, 1);
    assert_eq!(c.system().tickets().len(), 1);
    // and the next update comments on it
    run(&c, &[("3", &event(TicketAction::Update, 2))]).await;
    assert_eq!(c.system().tickets()[0].comments, 1);
}

#[tokio::test]
async fn an_update_with_no_ticket_creates_one_and_a_resolve_with_none_does_nothing() {
    let c = consumer();
    let (_, report) = run(&c, &[("1", &event(TicketAction::Resolve, 4))]).await;
    assert_eq!(report.nothing_to_close, 1);
    assert!(c.system().tickets().is_empty());
    let (_, report) = run(&c, &[("2", &event(TicketAction::Update, 5))]).await;
    assert_eq!(report.created, 1);
}

#[tokio::test]
async fn a_failure_leaves_the_rest_of_its_group_on_the_queue_and_the_other_groups_go_on() {
    let c = consumer();
    let a1 = event(TicketAction::Open, 1);
    let a2 = event(TicketAction::Update, 2);
    let b1 = TicketEvent::new(
        TicketAction::Open,
        finding_about("restricted-ssh", "sg-2"),
        1,
    );
    *c.system()
        .fail_next
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = 1;
    let (failed, report) = run(&c, &[("a1", &a1), ("b1", &b1), ("a2", &a2)]).await;
    assert_eq!(failed, ["a1", "a2"]);
    assert_eq!((report.failed, report.held_back, report.created), (1, 1, 1));
    // Lambda hands the group back in order: it applies as if nothing happened.
    let (failed, _) = run(&c, &[("a1", &a1), ("a2", &a2)]).await;
    assert!(failed.is_empty());
    let tickets = c.system().tickets();
    assert_eq!(tickets.len(), 2);
    assert_eq!(tickets.iter().map(|t| t.comments).sum::<usize>(), 1);
}

#[tokio::test]
async fn a_message_that_is_not_a_ticket_event_fails_alone_and_never_panics() {
    let c = consumer();
    let good = event(TicketAction::Open, 1);
    let mut batch = sqs(&[("good", &good)]);
    let bad_bodies = [
        "not json".to_owned(),
        "{}".to_owned(),
        json!({"schema_version": 99}).to_string(),
        good.body()
            .unwrap_or_default()
            .replace(good.fingerprint.as_str(), "\" OR labels is not EMPTY OR \""),
        good.body()
            .unwrap_or_default()
            .replace("\"schema_version\":3", "\"schema_version\":4"),
    ];
    if let Some(records) = batch["Records"].as_array_mut() {
        for (i, body) in bad_bodies.iter().enumerate() {
            records.push(json!({"messageId": format!("bad{i}"), "body": body, "attributes": {"MessageGroupId": format!("g{i}")}}));
        }
    }
    let (response, report) = c
        .handle(batch, deadline())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        response.failed_ids(),
        ["bad0", "bad1", "bad2", "bad3", "bad4"]
    );
    assert_eq!(report.created, 1);
    assert!(c.handle(json!({"detail": {}}), deadline()).await.is_err());
}

#[tokio::test]
async fn past_the_deadline_nothing_is_tried_and_everything_stays_on_the_queue() {
    let c = consumer();
    let e = event(TicketAction::Open, 1);
    let (response, _) = c
        .handle(sqs(&[("1", &e)]), Deadline::after(Duration::ZERO))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.failed_ids(), ["1"]);
    assert!(c.system().tickets().is_empty());
}

#[tokio::test]
async fn an_overtaken_event_is_dropped_by_its_sequence() {
    let c = consumer();
    run(
        &c,
        &[
            ("1", &event(TicketAction::Open, 1)),
            ("3", &event(TicketAction::Resolve, 7)),
        ],
    )
    .await;
    let (_, report) = run(&c, &[("2", &event(TicketAction::Update, 4))]).await;
    assert_eq!(report.already_applied, 1);
    assert_eq!(c.system().tickets()[0].comments, 0);
}
