//! Folds the JSON rows every benchmark prints (one object per line, `"bench": <kind>`) into one
//! markdown table: benchmark, subject, result, details, target, verdict.

use serde_json::Value;

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub benchmark: String,
    pub subject: String,
    pub result: String,
    pub detail: String,
    pub target: String,
    pub verdict: String,
}

fn f(v: &Value, path: &[&str]) -> f64 {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_f64().unwrap_or(f64::NAN)
}

fn s<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or("?")
}

fn verdict(pass: Option<bool>) -> String {
    match pass {
        Some(true) => "pass".into(),
        Some(false) => "**FAIL**".into(),
        None => "—".into(),
    }
}

/// `12 345 678` (thin groups, as in the numbers).
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn calls_text(row: &Value) -> String {
    row["calls"]
        .as_object()
        .map(|m| {
            // By operation name, whatever order the map keeps (serde_json's `preserve_order`
            // may be on in a workspace build).
            let mut ops: Vec<_> = m.iter().collect();
            ops.sort_by(|a, b| a.0.cmp(b.0));
            ops.iter()
                .map(|(op, n)| format!("{op} {}", n.as_u64().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The line of one JSON row; `None` for kinds that are not shown (`host`) or unknown.
pub fn line(row: &Value) -> Option<Line> {
    let kind = row["bench"].as_str()?;
    let u = |k: &str| row[k].as_u64().unwrap_or(0);
    Some(match kind {
        "cold_start" => {
            let pass = row["pass"].as_bool();
            Line {
                benchmark: "cold start".into(),
                subject: format!(
                    "{} ({} MB), median of {}",
                    s(row, "function"),
                    u("memory_size_mb"),
                    u("runs")
                ),
                result: format!(
                    "ready {:.1} ms · first invocation {:.1} ms · peak RSS {:.1} MB",
                    f(row, &["ready_ms", "median"]),
                    f(row, &["first_invocation_ms", "median"]),
                    f(row, &["peak_rss_mb", "median"]),
                ),
                detail: format!(
                    "ready {:.1}–{:.1} ms; first invocation {:.1}–{:.1} ms; RSS ≤ {:.1} MB; response {}{}",
                    f(row, &["ready_ms", "min"]),
                    f(row, &["ready_ms", "max"]),
                    f(row, &["first_invocation_ms", "min"]),
                    f(row, &["first_invocation_ms", "max"]),
                    f(row, &["peak_rss_mb", "max"]),
                    compact(&row["response"]),
                    row["note"]
                        .as_str()
                        .map(|n| format!("; {n}"))
                        .unwrap_or_default(),
                ),
                target: format!(
                    "ready < {} ms, RSS < {} MB",
                    f(row, &["target", "ready_ms"]),
                    f(row, &["target", "peak_rss_mb"])
                ),
                verdict: verdict(pass),
            }
        }
        "peer" => Line {
            benchmark: "replay vs Python".into(),
            subject: format!(
                "`triage replay --format jsonl` vs ../shared/bench/peer.py, {} records, median of {}",
                grouped(u("records")),
                u("runs")
            ),
            result: format!(
                "{:.1}× CPU ({:.2} s vs {:.2} s) · {:.1}× wall",
                f(row, &["ratio_cpu"]),
                f(row, &["replay", "cpu_s"]),
                f(row, &["peer", "cpu_s"]),
                f(row, &["ratio_wall"]),
            ),
            detail: format!(
                "base64+gunzip alone {:.2} s, so at most {:.1}× for any handler; wall: replay {:.2} s ({:.2}–{:.2}), peer {:.2} s ({:.2}–{:.2}); alternating runs, same corpus",
                f(row, &["floor_s"]),
                f(row, &["ratio_floor"]),
                f(row, &["replay", "wall_s"]),
                f(row, &["replay", "wall_min_s"]),
                f(row, &["replay", "wall_max_s"]),
                f(row, &["peer", "wall_s"]),
                f(row, &["peer", "wall_min_s"]),
                f(row, &["peer", "wall_max_s"]),
            ),
            target: format!("≥ {}× (CPU)", f(row, &["target_ratio"])),
            verdict: verdict(row["pass"].as_bool()),
        },
        "throughput" => {
            let share = f(row, &["floor_share"]);
            let target = row["target_floor_share"].as_f64();
            Line {
                benchmark: "throughput".into(),
                subject: format!(
                    "log-detector handler, {:.2} MB payload, {}, {} records",
                    f(row, &["inflated_mb"]),
                    s(row, "payload"),
                    grouped(u("records"))
                ),
                result: format!(
                    "{:.1} MB/s · {:.0}% of base64+gunzip alone ({:.1} MB/s)",
                    f(row, &["handler_mb_s"]),
                    100.0 * share,
                    f(row, &["inflate_mb_s"])
                ),
                detail: format!(
                    "+ subscription JSON {:.1} MB/s; + a JSON parse of every message {:.1} MB/s; + the pack's pattern set {:.1} MB/s; {} findings; best of {} passes",
                    f(row, &["decode_mb_s"]),
                    f(row, &["decode_parse_mb_s"]),
                    f(row, &["match_mb_s"]),
                    u("findings"),
                    u("passes"),
                ),
                target: target.map_or("—".into(), |t| {
                    format!("≥ {:.0}% of base64+gunzip", 100.0 * t)
                }),
                verdict: verdict(target.map(|t| share >= t)),
            }
        }
        "handler_rss" => {
            let peak = f(row, &["peak_rss_mb"]);
            let target = f(row, &["target_mb"]);
            Line {
                benchmark: "memory".into(),
                subject: format!(
                    "log-detector handler, one {:.2} MB payload ({} records)",
                    f(row, &["inflated_mb"]),
                    grouped(u("records"))
                ),
                result: format!("peak RSS {peak:.1} MB"),
                detail: format!(
                    "fresh process; {:.1} MB before the invocation; {} findings",
                    f(row, &["before_mb"]),
                    u("findings")
                ),
                target: format!("≤ {target} MB"),
                verdict: verdict(Some(peak <= target)),
            }
        }
        "api_calls" => {
            let passes = row["passes"].as_array().cloned().unwrap_or_default();
            Line {
                benchmark: "API calls per finding".into(),
                subject: format!("{}: {}", s(row, "function"), s(row, "scenario")),
                result: passes
                    .iter()
                    .map(|p| format!("{} {:.2}", s(p, "pass"), f(p, &["calls_per_finding"])))
                    .collect::<Vec<_>>()
                    .join(" · "),
                detail: passes
                    .iter()
                    .map(|p| {
                        let n = |k: &str| p[k].as_u64().unwrap_or(0);
                        format!(
                            "{}: {} calls ({}) for {} findings → {} tickets, {} digest entries, {} alerts",
                            s(p, "pass"),
                            n("total_calls"),
                            calls_text(p),
                            n("findings"),
                            n("tickets"),
                            n("digest_entries"),
                            n("alerts")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                target: "—".into(),
                verdict: verdict(None),
            }
        }
        "digest_api_calls" => Line {
            benchmark: "API calls per digest entry".into(),
            subject: format!(
                "digest ({}): {} entries, {} per invocation packed, {} receivers",
                s(row, "backend"),
                grouped(u("entries")),
                u("per_invocation"),
                u("receivers")
            ),
            result: format!("{:.4} per entry", f(row, &["calls_per_entry"])),
            detail: format!(
                "{} calls: {}; {} queue messages; wall {:.1} s",
                u("total_calls"),
                calls_text(row),
                grouped(u("messages")),
                f(row, &["wall_s"])
            ),
            target: "—".into(),
            verdict: verdict(None),
        },
        "load" => {
            let bounded = row["bounded"].as_bool();
            Line {
                benchmark: "load".into(),
                subject: format!(
                    "log-detector classification, {} CloudTrail records in ~{:.0} MB payloads",
                    grouped(u("records")),
                    f(row, &["payload_mb"])
                ),
                result: format!(
                    "{} records/s · {:.1} MB/s · peak RSS {:.1} MB",
                    grouped(f(row, &["records_per_s"]).max(0.0) as u64),
                    f(row, &["mb_per_s"]),
                    f(row, &["peak_rss_mb"])
                ),
                detail: format!(
                    "{} payloads, {} MB inflated; {} records matched → {} findings; classification {:.1} s (generating the payloads, {:.1} s, not counted); peak RSS after 10% of the records {:.1} MB",
                    grouped(u("payloads")),
                    grouped(f(row, &["inflated_mb"]).max(0.0).round() as u64),
                    grouped(u("matched_records")),
                    grouped(u("findings")),
                    f(row, &["classify_s"]),
                    f(row, &["generate_s"]),
                    f(row, &["early_peak_rss_mb"])
                ),
                target: "bounded memory".into(),
                verdict: verdict(bounded),
            }
        }
        _ => return None,
    })
}

/// The counts of a response summary that say what the invocation did.
fn compact(v: &Value) -> String {
    const SHOWN: [&str; 7] = [
        "findings",
        "tickets",
        "alerts",
        "digest_entries",
        "entries",
        "published",
        "deleted",
    ];
    match v.as_object() {
        Some(m) => SHOWN
            .iter()
            .filter_map(|k| Some(format!("{k} {}", m.get(*k)?)))
            .collect::<Vec<_>>()
            .join(", "),
        None => v.to_string(),
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The markdown table of every row that has a line.
pub fn render(rows: &[Value]) -> String {
    let mut out = String::from(
        "| benchmark | subject | result | details | target | verdict |\n|---|---|---|---|---|---|\n",
    );
    for l in rows.iter().filter_map(line) {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            cell(&l.benchmark),
            cell(&l.subject),
            cell(&l.result),
            cell(&l.detail),
            cell(&l.target),
            cell(&l.verdict)
        ));
    }
    out
}

/// The JSON rows of some text (one object per line; other lines are ignored, so a tool's
/// human-readable output may be mixed in).
pub fn rows(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("bench").is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000_000), "1 000 000");
        assert_eq!(grouped(12_345), "12 345");
    }

    #[test]
    fn a_failed_cold_start_shows_in_the_table() {
        let row = json!({"bench": "cold_start", "function": "digest", "runs": 10,
            "memory_size_mb": 512,
            "ready_ms": {"median": 25.0, "min": 20.0, "max": 30.0},
            "first_invocation_ms": {"median": 5.0, "min": 4.0, "max": 6.0},
            "peak_rss_mb": {"median": 10.0, "min": 9.0, "max": 11.0},
            "response": {"published": 1, "deleted": 0},
            "target": {"ready_ms": 20.0, "peak_rss_mb": 30.0}, "pass": false});
        let table = render(&[row]);
        assert!(
            table.contains("| cold start | digest (512 MB), median of 10 |"),
            "{table}"
        );
        assert!(table.contains("ready 25.0 ms"), "{table}");
        assert!(
            table.contains("response published 1, deleted 0 |"),
            "{table}"
        );
        assert!(table.trim_end().ends_with("**FAIL** |"), "{table}");
    }

    #[test]
    fn json_rows_are_picked_out_of_mixed_output_and_unknown_kinds_are_left_out() {
        let api = json!({"bench": "api_calls", "function": "f", "scenario": "s", "passes": [
            {"pass": "first sight", "findings": 2, "tickets": 2, "calls": {"Publish": 1, "GetItem": 2},
             "total_calls": 3, "calls_per_finding": 1.5},
            {"pass": "retry", "findings": 2, "calls": {"GetItem": 2}, "total_calls": 2,
             "calls_per_finding": 1.0}]});
        let text = format!("human text\n{{\"bench\":\"nope\"}}\n{{\"x\":1}}\n{api}\n");
        let rows = rows(&text);
        assert_eq!(rows.len(), 2);
        let table = render(&rows);
        assert_eq!(table.lines().count(), 3, "{table}");
        assert!(
            table.contains("| first sight 1.50 · retry 1.00 |"),
            "{table}"
        );
        assert!(
            table
                .contains("first sight: 3 calls (GetItem 2, Publish 1) for 2 findings → 2 tickets"),
            "{table}"
        );
    }

    #[test]
    fn the_peer_row_shows_the_cpu_ratio_against_its_target() {
        let row = json!({"bench": "peer", "records": 100000, "runs": 5,
            "peer": {"wall_s": 2.4, "cpu_s": 2.3, "wall_min_s": 2.3, "wall_max_s": 2.6},
            "replay": {"wall_s": 0.6, "cpu_s": 1.15, "wall_min_s": 0.5, "wall_max_s": 0.7},
            "ratio_cpu": 2.0, "ratio_wall": 4.0, "target_ratio": 8, "pass": false});
        let l = line(&row).expect("a line");
        assert!(
            l.result.starts_with("2.0× CPU (1.15 s vs 2.30 s)"),
            "{}",
            l.result
        );
        assert_eq!(
            (l.target.as_str(), l.verdict.as_str()),
            ("≥ 8× (CPU)", "**FAIL**")
        );
    }

    #[test]
    fn pipes_in_cells_are_escaped() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
