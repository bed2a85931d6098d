//! Median, minimum and maximum of a few measurements.

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    /// NaN everywhere for no values.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Stats {
        let mut v: Vec<f64> = values.into_iter().collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            return Stats {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Stats {
            median,
            min: v[0],
            max: v[n - 1],
        }
    }

    pub fn json(&self) -> Value {
        let r = |x: f64| (x * 100.0).round() / 100.0;
        json!({"median": r(self.median), "min": r(self.min), "max": r(self.max)})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(
            Stats::of([4.0, 1.0, 3.0, 2.0]),
            Stats {
                median: 2.5,
                min: 1.0,
                max: 4.0
            }
        );
        assert_eq!(Stats::of([9.0, 1.0, 5.0]).median, 5.0);
        assert!(Stats::of([]).median.is_nan());
    }
}
