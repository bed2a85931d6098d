//! Criterion benchmark: throughput over a generated CloudTrail corpus (see `corpus/mod.rs`) for
//! (a) JSON parse only, (b) parse + the seed's three patterns, (c) parse + the CIS set.
//! For a compact table run `cargo run --release -p triage-filter-pattern --example bench_table`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use triage_filter_pattern::{Message, PatternSet, catalog};

#[path = "corpus/mod.rs"]
mod corpus;

const RECORDS: usize = 100_000;

fn throughput(c: &mut Criterion) {
    let corpus = corpus::generate(RECORDS, 0x7269_6167);
    let seed = PatternSet::parse(catalog::SEED.iter().map(|(_, p)| p));
    let cis = PatternSet::parse(catalog::CIS.iter().map(|(_, p)| p));
    let (Ok(seed), Ok(cis)) = (seed, cis) else {
        panic!("catalog patterns parse");
    };
    let mut group = c.benchmark_group("cloudtrail_corpus");
    group.throughput(Throughput::Bytes(corpus.bytes as u64));
    group.sample_size(10);

    group.bench_function("a_parse_only", |b| {
        b.iter(|| {
            for record in &corpus.records {
                black_box(Message::new(record).is_json_object());
            }
        });
    });
    group.bench_function("a_reference_serde_json_value", |b| {
        b.iter(|| {
            for record in &corpus.records {
                black_box(serde_json::from_str::<serde_json::Value>(record).is_ok());
            }
        });
    });
    for (name, set) in [
        ("b_parse_and_seed_patterns", &seed),
        ("c_parse_and_cis_set", &cis),
    ] {
        group.bench_function(name, |b| {
            let mut hits = Vec::new();
            b.iter(|| {
                for record in &corpus.records {
                    set.matches_into(&Message::new(record), &mut hits);
                    black_box(&hits);
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
