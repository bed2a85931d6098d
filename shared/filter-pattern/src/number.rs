//! Exact decimal numbers as written in patterns and log events, compared without rounding
//! (`1000 = 1e3`, `5.0 <= 5`, and 20-digit identifiers stay distinct) and without allocating.

use std::cmp::Ordering;

/// Exponents are clamped to this magnitude; no realistic number gets near it and it keeps the
/// exponent arithmetic free of overflow.
const EXPONENT_CLAMP: i64 = 1 << 50;

/// A borrowed decimal number: `(-1)^negative × int.frac × 10^exponent`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decimal<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
    exponent: i64,
}

impl<'a> Decimal<'a> {
    /// Parses the pattern grammar
    /// `[+-]? (digits ['.' digits] | '.' digits) ([eE] [+-]? digits)?`, which also covers every
    /// JSON number.
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let int_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let int = bytes.get(int_start..i)?;
        let mut frac: &[u8] = &[];
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            let frac_start = i;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            frac = bytes.get(frac_start..i)?;
            if frac.is_empty() {
                return None;
            }
        }
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let mut exponent: i64 = 0;
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            let exp_negative = match bytes.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let exp_start = i;
            while let Some(d) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
                exponent = (exponent * 10 + i64::from(d - b'0')).min(EXPONENT_CLAMP);
                i += 1;
            }
            if i == exp_start {
                return None;
            }
            if exp_negative {
                exponent = -exponent;
            }
        }
        if i != bytes.len() {
            return None;
        }
        Some(Self {
            negative,
            int,
            frac,
            exponent,
        })
    }

    fn digits(&self) -> impl Iterator<Item = u8> + 'a {
        self.int.iter().chain(self.frac.iter()).copied()
    }

    /// `None` for zero; otherwise the index of the first significant digit and the power of ten
    /// just above it (the value is `0.d₁d₂… × 10^power`).
    fn magnitude(&self) -> Option<(usize, i64)> {
        let first = self.digits().position(|d| d != b'0')?;
        // Both lengths are bounded by the input length, far below i64::MAX.
        let int_len = i64::try_from(self.int.len()).unwrap_or(i64::MAX / 4);
        let first_i = i64::try_from(first).unwrap_or(i64::MAX / 4);
        Some((first, int_len - first_i + self.exponent))
    }

    /// Numeric comparison.
    pub(crate) fn compare(&self, other: &Decimal<'_>) -> Ordering {
        let (a, b) = (self.magnitude(), other.magnitude());
        let (sa, sb) = (sign(a, self.negative), sign(b, other.negative));
        match sa.cmp(&sb) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        let (Some((fa, pa)), Some((fb, pb))) = (a, b) else {
            return Ordering::Equal; // both zero
        };
        let magnitude = pa.cmp(&pb).then_with(|| {
            let mut da = self.digits().skip(fa);
            let mut db = other.digits().skip(fb);
            loop {
                match (da.next(), db.next()) {
                    (None, None) => return Ordering::Equal,
                    (x, y) => match x.unwrap_or(b'0').cmp(&y.unwrap_or(b'0')) {
                        Ordering::Equal => {}
                        unequal => return unequal,
                    },
                }
            }
        });
        if sa < 0 {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

fn sign(magnitude: Option<(usize, i64)>, negative: bool) -> i8 {
    match magnitude {
        None => 0,
        Some(_) if negative => -1,
        Some(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        let (Some(x), Some(y)) = (Decimal::parse(a), Decimal::parse(b)) else {
            panic!("not numbers: {a} {b}");
        };
        x.compare(&y)
    }

    #[test]
    fn pattern_number_grammar_is_accepted() {
        for ok in [
            "0", "404", "-1", "+1000", "1.5", ".5", "1e3", "1E-3", "10e+3", "00012",
        ] {
            assert!(Decimal::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "", "-", "+", ".", "1.", "e3", "1e", "1e+", "0x10", "1 ", "1..2", "NaN", "1.2.3",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn equal_values_in_different_notation_compare_equal() {
        for (a, b) in [
            ("1000", "1e3"),
            ("5.0", "5"),
            ("0.001", "1e-3"),
            ("-0", "0"),
            ("+1000", "1000"),
            ("0.0", "-0.000e7"),
            (".5", "5e-1"),
            ("000120", "1.2e2"),
        ] {
            assert_eq!(cmp(a, b), Ordering::Equal, "{a} vs {b}");
        }
    }

    #[test]
    fn ordering_is_numeric_and_exact() {
        for (a, b) in [
            ("1", "2"),
            ("-2", "-1"),
            ("-1", "0"),
            ("0", "0.0001"),
            ("99", "100"),
            ("1e2", "1e3"),
            ("12345678901234567890", "12345678901234567891"),
            ("-1e400", "1e-400"),
            ("1.25", "1.3"),
        ] {
            assert_eq!(cmp(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(cmp(b, a), Ordering::Greater, "{b} > {a}");
        }
    }

    #[test]
    fn huge_exponents_do_not_overflow() {
        assert_eq!(
            cmp("1e99999999999999999999999", "1e99999999999999999999998"),
            Ordering::Equal
        );
        assert_eq!(cmp("1e-99999999999999999999", "0"), Ordering::Greater);
    }
}
