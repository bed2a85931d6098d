//! Prints the benchmark as a table: MB/s and events/s for (a) JSON parse only, (b) the seed's
//! three patterns, (c) the CIS set (both with the literal prefilter, which parses only the
//! records a pattern can match), (c) without the prefilter, the prefilter alone, and the ratios
//! to (a).
//!
//! `cargo run --release -p triage-filter-pattern --example bench_table [RECORDS] [PASSES]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use triage_filter_pattern::{FilterPattern, Message, PatternSet, catalog};

#[path = "../benches/corpus/mod.rs"]
mod corpus;

/// Runs every scenario once per pass, interleaved (so that load from other processes hits all
/// of them alike), after one warm-up pass; returns each scenario's best time.
fn best_of(passes: usize, scenarios: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    let mut best = vec![Duration::MAX; scenarios.len()];
    for pass in 0..=passes {
        for (scenario, best) in scenarios.iter_mut().zip(best.iter_mut()) {
            let start = Instant::now();
            scenario();
            if pass > 0 {
                *best = (*best).min(start.elapsed());
            }
        }
    }
    best
}

fn main() {
    let mut args = std::env::args().skip(1);
    let records: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let passes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);

    let corpus = corpus::generate(records, 0x7269_6167);
    let (Ok(seed), Ok(cis)) = (
        PatternSet::parse(catalog::SEED.iter().map(|(_, p)| p)),
        PatternSet::parse(catalog::CIS.iter().map(|(_, p)| p)),
    ) else {
        eprintln!("catalog patterns failed to parse");
        std::process::exit(1);
    };
    let cis_one_by_one: Vec<FilterPattern> = cis.patterns().to_vec();
    let cis_full = cis.clone().without_prefilter();
    let cis = cis.with_prefilter();
    let seed = seed.with_prefilter();

    let count = |set: &PatternSet| {
        corpus
            .records
            .iter()
            .filter(|r| set.is_match(&Message::new(r)))
            .count()
    };
    let (seed_hits, cis_hits) = (count(&seed), count(&cis));
    let mb = corpus.bytes as f64 / 1e6;
    println!(
        "corpus: {} CloudTrail records, {:.1} MB, {:.0} bytes/record on average; \
         {} match a seed pattern, {} match a CIS pattern; best of {passes} passes",
        corpus.records.len(),
        mb,
        corpus.bytes as f64 / corpus.records.len().max(1) as f64,
        seed_hits,
        cis_hits,
    );

    let (mut seed_hits_buf, mut cis_hits_buf) = (Vec::new(), Vec::new());
    let mut parse_only = || {
        for r in &corpus.records {
            black_box(Message::new(r).is_json_object());
        }
    };
    let mut serde_value = || {
        for r in &corpus.records {
            black_box(serde_json::from_str::<serde_json::Value>(r).is_ok());
        }
    };
    let mut with_seed = || {
        for r in &corpus.records {
            seed.matches_into(&Message::new(r), &mut seed_hits_buf);
            black_box(&seed_hits_buf);
        }
    };
    let mut with_cis = || {
        for r in &corpus.records {
            cis.matches_into(&Message::new(r), &mut cis_hits_buf);
            black_box(&cis_hits_buf);
        }
    };
    let mut cis_hits_full = Vec::new();
    let mut with_cis_full = || {
        for r in &corpus.records {
            cis_full.matches_into(&Message::new(r), &mut cis_hits_full);
            black_box(&cis_hits_full);
        }
    };
    let mut prefilter_only = || {
        for r in &corpus.records {
            black_box(cis.candidates(r).is_empty());
        }
    };
    let mut cis_separately = || {
        for r in &corpus.records {
            let message = Message::new(r);
            black_box(
                cis_one_by_one
                    .iter()
                    .filter(|p| p.matches_message(&message))
                    .count(),
            );
        }
    };
    let times = best_of(
        passes,
        &mut [
            &mut parse_only,
            &mut with_seed,
            &mut with_cis,
            &mut serde_value,
            &mut cis_separately,
            &mut with_cis_full,
            &mut prefilter_only,
        ],
    );
    let [
        parse_only,
        with_seed,
        with_cis,
        serde_value,
        cis_separately,
        cis_full,
        prefilter,
    ] = times[..]
    else {
        unreachable!("seven scenarios");
    };

    let rows = [
        ("(a) JSON parse only (Message)", parse_only),
        ("(b) parse + seed's 3 patterns (PatternSet)", with_seed),
        (
            &*format!("(c) parse + CIS set, {} patterns (PatternSet)", cis.len()),
            with_cis,
        ),
        (
            "    (c) without the literal prefilter (as it runs)",
            cis_full,
        ),
        ("    the CIS set's prefilter alone", prefilter),
        ("    reference: serde_json::Value parse", serde_value),
        ("    reference: (c) without PatternSet", cis_separately),
    ];
    println!(
        "{:<48} {:>10} {:>14} {:>10}",
        "scenario", "MB/s", "events/s", "vs (a)"
    );
    for (name, elapsed) in rows {
        let secs = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        println!(
            "{name:<48} {:>10.1} {:>14.0} {:>9.1}%",
            mb / secs,
            corpus.records.len() as f64 / secs,
            100.0 * parse_only.as_secs_f64() / secs,
        );
    }
    println!(
        "c/a ratio: {:.2} (target >= 0.80)",
        parse_only.as_secs_f64() / with_cis.as_secs_f64().max(f64::MIN_POSITIVE)
    );
}
