//! How fast this machine is, for `gncond list`'s estimates.
//!
//! Every experiment's cost model gives seconds on one core of the machine it was calibrated
//! on (the reference machine: 2 cores, where the default profile's measured run times fixed
//! the models' constants). The work is dominated by dense products, so one number transfers
//! them to another machine: the rate of a one-part 256×256×256 GEMM through `linalg` (the
//! kernel every heavy path uses), in Gflop/s, against [`REFERENCE_GFLOPS`]. Estimates are
//! multiplied by `REFERENCE_GFLOPS / measured`.
//!
//! The measurement takes about half a second and is cached in the cache folder
//! (`calibration.txt`, one line `gemm_gflops_one_core = <value>`), so `list` measures once
//! per cache folder; `--recalibrate` measures again.

use crate::fsutil;
use crate::linalg::{self, Slab};
use crate::{Error, Result};
use std::path::Path;
use std::time::Instant;

/// One-core Gflop/s of [`measure`] on the reference machine, whose run times calibrated the
/// cost models: eleven calls gave 57.6–80.8 (two clusters, near 58 and near 79: the same
/// machine is not always equally fast), so an estimate is good to about ±20 %.
pub const REFERENCE_GFLOPS: f64 = 70.0;

/// The cache file's name inside the cache folder.
pub const FILE: &str = "calibration.txt";

const KEY: &str = "gemm_gflops_one_core";
const ORDER: usize = 256;

/// This machine's speed against the reference machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speed {
    /// One-core GEMM rate in Gflop/s.
    pub gflops: f64,
    /// Read from the cache file (false: measured now).
    pub cached: bool,
}

impl Speed {
    /// Factor turning reference-machine seconds into seconds on this machine.
    pub fn factor(&self) -> f64 {
        REFERENCE_GFLOPS / self.gflops
    }
}

/// One-core Gflop/s of a 256×256×256 product: rounds of products until 0.15 s have passed,
/// the best of three rounds.
pub fn measure() -> f64 {
    let n = ORDER;
    let a: Vec<f64> = (0..n * n)
        .map(|i| ((i * 7919) % 1000) as f64 / 1000.0)
        .collect();
    let b: Vec<f64> = (0..n * n)
        .map(|i| ((i * 104_729) % 997) as f64 / 997.0)
        .collect();
    let mut c = vec![0.0; n * n];
    let flops = 2.0 * (n * n * n) as f64;
    let mut best = 0.0f64;
    for _ in 0..3 {
        let start = Instant::now();
        let mut reps = 0usize;
        while reps == 0 || start.elapsed().as_secs_f64() < 0.15 {
            linalg::gemm_seq(
                &mut c,
                n,
                n,
                Slab::new(&a, n, n),
                Slab::new(&b, n, n),
                false,
            );
            reps += 1;
        }
        best = best.max(flops * reps as f64 / start.elapsed().as_secs_f64() / 1e9);
    }
    std::hint::black_box(&c);
    best
}

/// The cached speed in `cache_dir`, or a new measurement (written there) when there is none,
/// it cannot be read, or `fresh` asks for one. A cache folder that cannot be written is not
/// an error: the measurement is still used.
pub fn speed(cache_dir: &Path, fresh: bool) -> Result<Speed> {
    let path = cache_dir.join(FILE);
    if !fresh {
        if let Some(gflops) = std::fs::read_to_string(&path).ok().and_then(|t| parse(&t)) {
            return Ok(Speed {
                gflops,
                cached: true,
            });
        }
    }
    let gflops = measure();
    if !gflops.is_finite() || gflops <= 0.0 {
        return Err(Error::Internal(format!(
            "calibration measured {gflops} Gflop/s"
        )));
    }
    if std::fs::create_dir_all(cache_dir).is_ok() {
        let _ = fsutil::write_atomic(&path, format!("{KEY} = {gflops:.3}\n").as_bytes());
    }
    Ok(Speed {
        gflops,
        cached: false,
    })
}

/// The rate in a calibration file's text; None unless it is one positive finite number.
fn parse(text: &str) -> Option<f64> {
    let (key, value) = text.trim().split_once('=')?;
    let v: f64 = value.trim().parse().ok()?;
    (key.trim() == KEY && v.is_finite() && v > 0.0).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calibration_file_is_one_positive_rate() {
        assert_eq!(parse("gemm_gflops_one_core = 12.5\n"), Some(12.5));
        assert_eq!(parse("gemm_gflops_one_core = -1"), None);
        assert_eq!(parse("gemm_gflops_one_core = inf"), None);
        assert_eq!(parse("other = 3"), None);
        assert_eq!(parse("gemm_gflops_one_core = 3\nmore = 1"), None);
    }

    #[test]
    fn a_slower_machine_gets_longer_estimates() {
        let slow = Speed {
            gflops: REFERENCE_GFLOPS / 2.0,
            cached: true,
        };
        assert!((slow.factor() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn a_cached_rate_is_read_back_and_a_fresh_one_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = speed(dir.path(), false).unwrap();
        assert!(!first.cached && first.gflops > 0.0);
        std::fs::write(dir.path().join(FILE), "gemm_gflops_one_core = 1.25\n").unwrap();
        let again = speed(dir.path(), false).unwrap();
        assert_eq!((again.gflops, again.cached), (1.25, true));
        let fresh = speed(dir.path(), true).unwrap();
        assert!(!fresh.cached);
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(
            parse(&text).map(|v| (v - fresh.gflops).abs() < 1e-3),
            Some(true)
        );
    }
}
