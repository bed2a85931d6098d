//! The subscription data decoder (`decode_data`: base64, then gzip inflated with a bound),
//! structured: a payload (repeated, for bombs) gzipped at any level, the stream damaged
//! (truncated, bytes flipped, inserted, appended), then base64-encoded and the text damaged
//! (stray whitespace, bad symbols, padding removed). Undamaged input round-trips exactly, or is
//! `TooLarge` past the bound; damaged input is never a panic and never more than the bound.
#![no_main]

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use triage_core::cloudtrail::{DecodeError, Limits, decode_data, gunzip_bounded};

const MAX: usize = 64 * 1024;

struct Case {
    payload: Vec<u8>,
    text: String,
    damaged: bool,
}

fn case(u: &mut Unstructured<'_>) -> Result<Case> {
    let unit: Vec<u8> = u.arbitrary()?;
    let repeat = usize::from(u.arbitrary::<u16>()?);
    let repeat = if unit.is_empty() {
        0
    } else {
        repeat.min(2 * MAX / unit.len())
    };
    let payload = unit.repeat(repeat.max(1));
    let level = u.int_in_range(0..=9)?;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(level));
    encoder.write_all(&payload).expect("gzip");
    let mut gz = encoder.finish().expect("gzip");
    let mut damaged = false;
    for _ in 0..u.int_in_range(0..=3)? {
        damaged = true;
        match u.int_in_range(0..=3)? {
            0 => {
                let at = u.int_in_range(0..=gz.len())?;
                gz.truncate(at);
            }
            1 if !gz.is_empty() => {
                let at = u.int_in_range(0..=gz.len() - 1)?;
                gz[at] ^= u.int_in_range(1..=255)?;
            }
            2 => {
                let at = u.int_in_range(0..=gz.len())?;
                gz.insert(at, u.arbitrary()?);
            }
            _ => gz.extend(u.arbitrary::<Vec<u8>>()?),
        }
    }
    // gunzip directly, too: never more than the bound.
    if let Ok(out) = gunzip_bounded(&gz, MAX) {
        assert!(out.len() <= MAX);
    }
    let mut text = if u.arbitrary()? {
        STANDARD.encode(&gz)
    } else {
        damaged = true;
        STANDARD_NO_PAD.encode(&gz)
    };
    for _ in 0..u.int_in_range(0..=2)? {
        damaged = true;
        let mut at = u.int_in_range(0..=text.len())?;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let c = *u.choose(&[' ', '\n', '%', '=', '-', '_', '\u{e9}', 'A'])?;
        text.insert(at, c);
    }
    Ok(Case {
        payload,
        text,
        damaged,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(c) = case(&mut u) else { return };
    let limits = Limits {
        max_decoded_bytes: MAX,
        ..Limits::default()
    };
    let got = decode_data(&c.text, &limits);
    if let Ok(out) = &got {
        assert!(out.len() <= MAX);
    }
    if !c.damaged {
        if c.payload.len() <= MAX {
            assert_eq!(got.as_deref(), Ok(&c.payload[..]), "round trip");
        } else {
            assert!(
                matches!(
                    got,
                    Err(DecodeError::TooLarge { .. } | DecodeError::EncodedTooLarge { .. })
                ),
                "{got:?}"
            );
        }
    }
});
