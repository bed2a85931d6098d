//! The harness of the hostile-input catalogues (`functions/*/tests/hostile.rs`). A [`Harness`]
//! runs each [`Case`] as the Lambda runtime would (the body through serde_json, then the handler
//! on a current-thread runtime), under `catch_unwind`, on a fresh in-memory backend; the
//! catalogue's verdict judges the outcome, then everything the sinks received is checked: no
//! character a reader must never see ([`is_hostile`]), every string, key and body bounded. A
//! catalogue keeps its table, its expectations and its per-key bounds.

use std::any::Any;
use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};

use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::Value;
use triage_core::digest::MAX_SNS_MESSAGE_BYTES;
use triage_core::fakes::Memory;
use triage_core::text::{has_live_markup, is_hostile};
use triage_core::ticket::MAX_SUBJECT_CHARS;
use triage_lambda::Function;

/// Every kind of character that must never reach a reader.
pub const NASTY: &str = "<img src=x onerror=alert(1)>[click](https://evil.example/p) @here @channel <!everyone> evil\r\nINFO forged\u{1b}[31mred\u{1b}]0;title\u{7}\u{202e}fdp.exe\u{2066}x\u{2069}\u{200b}\u{feff}\u{2028}\u{0}\u{7f}\u{85}tab\there ad\u{ad}min\u{206a}\u{3164}\u{fe0f}\u{e0065}\u{e0076}\u{e0069}\u{e006c}\u{e0100}😀";
/// No ticket event body is larger, in bytes.
pub const MAX_TICKET_BYTES: usize = 32 * 1024;
/// No key of a JSON document the sinks received is longer, in characters.
pub const MAX_KEY_CHARS: usize = 256;
/// No line of a published digest's text is longer, in characters.
pub const MAX_DIGEST_LINE_CHARS: usize = 400;

/// One row of a catalogue.
pub struct Case<I, E> {
    pub name: &'static str,
    pub input: I,
    pub expect: E,
}

pub fn case<I, E>(name: &'static str, input: I, expect: E) -> Case<I, E> {
    Case {
        name,
        input,
        expect,
    }
}

/// What a case hands the Lambda runtime.
pub enum Invocation {
    /// The invocation body as the runtime receives it: parsed by serde_json before the handler.
    Body(Vec<u8>),
    /// The event.
    Event(Value),
}

/// `Err` with serde_json's reason when the runtime refused the body before the handler; else
/// what the handler returned, its error as the `Diagnostic` Lambda reports.
pub type Outcome<O> = Result<Result<O, Diagnostic>, String>;

/// A catalogue's judgement of a case's outcome, with the backend to read back what was sent:
/// `Err` says what went wrong.
pub type Verdict<I, E, O> = fn(&I, &E, Outcome<O>, &Memory) -> Result<(), String>;

/// A function under hostile input: how to build it, feed it and judge it.
pub struct Harness<F: Function, I, E> {
    /// The function as it ships, assembled on the backend.
    pub assemble: fn(&Memory) -> F,
    /// The invocation a case's input makes, after putting on the backend whatever the function
    /// reads from it (the digest queue's messages).
    pub invocation: fn(&I, &Memory) -> Invocation,
    /// The catalogue's judgement of the outcome; what the sinks received is checked after it.
    pub verdict: Verdict<I, E, F::Output>,
    /// The most characters a string of a JSON document the sinks received may hold, by its key.
    pub string_chars: fn(&str) -> usize,
}

impl<F: Function, I, E> Harness<F, I, E> {
    /// Runs every case, each on a fresh backend and under `catch_unwind` (a panic fails the case,
    /// it is never an outcome), and reports every failure at once.
    pub fn run(&self, cases: Vec<Case<I, E>>) {
        let total = cases.len();
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|case| {
                catch_unwind(AssertUnwindSafe(|| self.check(case)))
                    .unwrap_or_else(|panic| Err(format!("PANICKED: {}", panic_text(&*panic))))
                    .err()
                    .map(|why| format!("{}: {why:.600}", case.name))
            })
            .collect();
        assert!(total > 0, "an empty catalogue checks nothing");
        assert!(
            failures.is_empty(),
            "{} of {total} cases failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    fn check(&self, case: &Case<I, E>) -> Result<(), String> {
        let memory = Memory::default();
        let function = (self.assemble)(&memory);
        let outcome = invoke(&function, (self.invocation)(&case.input, &memory));
        (self.verdict)(&case.input, &case.expect, outcome, &memory)?;
        let problems = sent_problems(&memory, self.string_chars);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

fn panic_text(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
}

/// Runs `function` on `invocation` as the Lambda runtime does: serde_json parses the body, the
/// handler runs on a current-thread tokio runtime, its error becomes the `Diagnostic`.
pub fn invoke<F: Function>(function: &F, invocation: Invocation) -> Outcome<F::Output> {
    let event = match invocation {
        Invocation::Body(body) => serde_json::from_slice(&body).map_err(|e| e.to_string())?,
        Invocation::Event(event) => event,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|e| panic!("no tokio runtime: {e}"));
    Ok(runtime
        .block_on(function.handle(LambdaEvent::new(event, Context::default())))
        .map_err(|e| triage_lambda::diagnostic(&e)))
}

// ------------------------------------------------------------------------------------------
// Verdicts
// ------------------------------------------------------------------------------------------

/// The runtime refused the body, and its reason names `want`.
pub fn refused(reason: &str, want: &str) -> Result<(), String> {
    if reason.contains(want) {
        Ok(())
    } else {
        Err(format!("runtime refused it, but: {reason}"))
    }
}

/// The handler's error is an `error_type` whose message names `want`, is safe to show (no
/// hostile character, at most `max_bytes`), and nothing was ticketed.
pub fn typed_error(
    d: &Diagnostic,
    error_type: &str,
    want: &str,
    max_bytes: usize,
    memory: &Memory,
) -> Result<(), String> {
    if d.error_type != error_type || !d.error_message.contains(want) {
        return Err(format!("{}: {}", d.error_type, d.error_message));
    }
    if d.error_message.chars().any(is_hostile) || d.error_message.len() > max_bytes {
        return Err(format!("unsafe error message {:.200?}", d.error_message));
    }
    if !memory.tickets.sent().is_empty() {
        return Err(format!("a {error_type} sent tickets"));
    }
    Ok(())
}

/// Each of the `rules` ticketed exactly once (in `account`, where given).
pub fn ticketed_once(memory: &Memory, rules: &[&str], account: Option<&str>) -> Result<(), String> {
    let tickets = memory.tickets.sent();
    for rule in rules {
        let delivered = tickets
            .iter()
            .filter(|t| t.finding.rule_id.as_str() == *rule)
            .filter(|t| account.is_none_or(|a| t.finding.account.as_str() == a))
            .count();
        if delivered != 1 {
            return Err(format!("good record {rule}: {delivered} tickets"));
        }
    }
    Ok(())
}

/// The failure for an outcome no arm of a verdict expected.
pub fn unexpected<O: Debug>(outcome: Outcome<O>) -> String {
    match outcome {
        Err(reason) => format!("the runtime refused it: {reason}"),
        Ok(Ok(output)) => format!("Ok({output:?})"),
        Ok(Err(d)) => format!("{}: {}", d.error_type, d.error_message),
    }
}

// ------------------------------------------------------------------------------------------
// What the sinks received
// ------------------------------------------------------------------------------------------

/// What is wrong with everything `memory` received: ticket bodies above [`MAX_TICKET_BYTES`],
/// digest entries, alerts and published digests, each JSON string with a hostile character or
/// longer than `string_chars(its key)`, a key hostile or longer than [`MAX_KEY_CHARS`], a subject
/// not ASCII or longer than [`MAX_SUBJECT_CHARS`], a text with a hostile character besides `\n`;
/// of a digest, a text line longer than [`MAX_DIGEST_LINE_CHARS`] or an SNS message longer than
/// [`MAX_SNS_MESSAGE_BYTES`].
pub fn sent_problems(memory: &Memory, string_chars: fn(&str) -> usize) -> Vec<String> {
    let mut out = Problems {
        string_chars,
        list: Vec::new(),
    };
    for t in memory.tickets.sent() {
        match t.body() {
            Ok(body) if body.len() > MAX_TICKET_BYTES => {
                out.push(format!("ticket body of {} bytes", body.len()));
                out.json("ticket", &body);
            }
            Ok(body) => out.json("ticket", &body),
            Err(e) => out.push(format!("ticket body: {e}")),
        }
    }
    for d in memory.digest.sent() {
        match d.body() {
            Ok(body) => out.json("digest entry", &body),
            Err(e) => out.push(format!("digest entry body: {e}")),
        }
    }
    for a in memory.alerts.sent() {
        out.subject("alert", &a.subject);
        out.text("alert", &a.text);
        out.json("alert json", &a.json);
    }
    for m in memory.digest_topic.published() {
        out.subject("digest", &m.subject);
        out.text("digest", &m.text);
        if let Some(line) = m
            .text
            .lines()
            .find(|l| l.chars().count() > MAX_DIGEST_LINE_CHARS)
        {
            out.push(format!("a text line of {} chars", line.chars().count()));
        }
        match m.sns_message() {
            Ok(sns) if sns.len() > MAX_SNS_MESSAGE_BYTES => {
                out.push(format!("an SNS message of {} bytes", sns.len()));
            }
            Ok(_) => {}
            Err(e) => out.push(format!("SNS message: {e}")),
        }
        out.json("digest json", &m.json);
    }
    out.list
}

struct Problems {
    string_chars: fn(&str) -> usize,
    list: Vec<String>,
}

impl Problems {
    fn push(&mut self, problem: String) {
        self.list.push(problem);
    }

    fn subject(&mut self, what: &str, subject: &str) {
        if subject.len() > MAX_SUBJECT_CHARS
            || !subject.chars().all(|c| c.is_ascii_graphic() || c == ' ')
            || has_live_markup(subject)
        {
            self.push(format!("{what} subject {subject:?}"));
        }
    }

    /// A plain-text body (an email): no hostile character but its newlines, and no live markup
    /// but in triage's own console link.
    fn text(&mut self, what: &str, text: &str) {
        if text.chars().any(|c| c != '\n' && is_hostile(c)) {
            self.push(format!("{what} text holds control characters"));
        }
        if let Some(line) = text
            .lines()
            .filter(|l| !l.starts_with("Console: "))
            .find(|l| has_live_markup(l))
        {
            self.push(format!("{what} text holds live markup: {line:.120?}"));
        }
    }

    fn json(&mut self, what: &str, text: &str) {
        match serde_json::from_str(text) {
            Ok(v) => self.strings(what, "", &v),
            Err(e) => self.push(format!("{what}: not JSON: {e}")),
        }
    }

    fn strings(&mut self, what: &str, key: &str, v: &Value) {
        match v {
            Value::String(s) => {
                if s.chars().any(is_hostile) {
                    self.push(format!("{what}.{key}: control characters in {s:.80?}"));
                }
                let chars = s.chars().count();
                if chars > (self.string_chars)(key) {
                    self.push(format!("{what}.{key}: {chars} chars"));
                }
            }
            Value::Array(items) => items.iter().for_each(|i| self.strings(what, key, i)),
            Value::Object(m) => {
                for (k, item) in m {
                    if k.chars().any(is_hostile) || k.chars().count() > MAX_KEY_CHARS {
                        self.push(format!("{what}: key {k:.80?}"));
                    }
                    self.strings(what, k, item);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_lambda::ErrorType;

    /// Echoes its event; fails on `"fail"` and panics on `"panic"`.
    struct Echo;

    #[derive(Debug)]
    struct Refused;

    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("refused \u{1b}[31m")
        }
    }

    impl ErrorType for Refused {
        fn error_type(&self) -> &'static str {
            "Refused"
        }
    }

    impl Function for Echo {
        type Output = Value;
        type Error = Refused;

        async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Refused> {
            match event.payload.as_str() {
                Some("fail") => Err(Refused),
                Some("panic") => panic!("asked to"),
                _ => Ok(event.payload),
            }
        }
    }

    fn problems(string_chars: fn(&str) -> usize, json: &str) -> Vec<String> {
        let mut p = Problems {
            string_chars,
            list: Vec::new(),
        };
        p.json("ticket", json);
        p.list
    }

    #[test]
    fn a_body_serde_json_refuses_never_reaches_the_handler() {
        let deep = vec![b'['; 100_000];
        let outcome = invoke(&Echo, Invocation::Body(deep));
        assert!(matches!(&outcome, Err(r) if r.contains("recursion limit exceeded")));
        let outcome = invoke(&Echo, Invocation::Body(b"\"fine\"".to_vec()));
        assert!(matches!(outcome, Ok(Ok(v)) if v == "fine"));
    }

    #[test]
    fn an_error_is_the_diagnostic_and_a_hostile_message_is_unsafe() {
        let Ok(Err(d)) = invoke(&Echo, Invocation::Event(Value::from("fail"))) else {
            panic!("the handler's error");
        };
        assert_eq!(d.error_type, "Refused");
        let memory = Memory::default();
        let unsafe_message = typed_error(&d, "Refused", "refused", 1024, &memory);
        assert!(unsafe_message.is_err_and(|e| e.starts_with("unsafe error message")));
        assert!(typed_error(&d, "Other", "refused", 1024, &memory).is_err());
    }

    #[test]
    fn hostile_strings_long_strings_and_long_keys_are_each_reported() {
        let bound = |key: &str| if key == "title" { 5 } else { 100 };
        let long_key = "k".repeat(MAX_KEY_CHARS + 1);
        let json = serde_json::json!({
            "title": "too long",
            "tags": ["fine", "bidi \u{202e}"],
            long_key: 1,
            "fine": "fine",
        });
        let found = problems(bound, &json.to_string());
        assert_eq!(found.len(), 3, "{found:?}");
        for want in [
            "ticket: key \"kkk",
            "ticket.tags: control characters in \"bidi \\u{202e}\"",
            "ticket.title: 8 chars",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(want)),
                "{want}: {found:?}"
            );
        }
        assert!(problems(bound, "{\"title\": \"short\"}").is_empty());
        assert_eq!(problems(bound, "{").len(), 1);
    }

    #[test]
    #[should_panic(expected = "2 of 3 cases failed:\nfails: Refused: refused")]
    fn run_reports_every_failing_case_and_a_panic_is_one() {
        let harness: Harness<Echo, &'static str, ()> = Harness {
            assemble: |_| Echo,
            invocation: |input, _| Invocation::Event(Value::from(*input)),
            verdict: |_, _, outcome, _| match outcome {
                Ok(Ok(_)) => Ok(()),
                other => Err(unexpected(other)),
            },
            string_chars: |_| 100,
        };
        harness.run(vec![
            case("echoes", "hello", ()),
            case("fails", "fail", ()),
            case("panics", "panic", ()),
        ]);
    }
}
