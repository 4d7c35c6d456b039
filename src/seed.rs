//! Per-point random generators.
//!
//! Every grid point draws from its own ChaCha20 stream whose 32-byte seed is the SHA-256 of a
//! canonical text naming (master seed, experiment id, the point's parameters, replicate). A
//! point's numbers therefore depend only on what it is, never on thread count or run order.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, StandardNormal};
use sha2::{Digest, Sha256};

/// The generator type used everywhere.
pub type PointRng = ChaCha20Rng;

/// The canonical text hashed into a point's seed. Parameters are written in the given order,
/// as `key=value;`, so callers pass them in a fixed order.
pub fn seed_text(
    master: u64,
    experiment: &str,
    params: &[(&str, String)],
    replicate: u64,
) -> String {
    let mut s = format!("gncond-seed-v1|master={master}|experiment={experiment}|");
    for (k, v) in params {
        s.push_str(k);
        s.push('=');
        s.push_str(v);
        s.push(';');
    }
    s.push_str(&format!("|replicate={replicate}"));
    s
}

/// The generator of one point.
pub fn point_rng(
    master: u64,
    experiment: &str,
    params: &[(&str, String)],
    replicate: u64,
) -> PointRng {
    let digest = Sha256::digest(seed_text(master, experiment, params, replicate).as_bytes());
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&digest);
    ChaCha20Rng::from_seed(seed)
}

/// The generator of a point as if it had no parameters named in `shared`: points that differ
/// only in those draw the same numbers (a paired design).
pub fn paired_rng(
    master: u64,
    experiment: &str,
    params: &[(&str, String)],
    shared: &[&str],
    replicate: u64,
) -> PointRng {
    let kept: Vec<(&str, String)> = params
        .iter()
        .filter(|(k, _)| !shared.contains(k))
        .cloned()
        .collect();
    point_rng(master, experiment, &kept, replicate)
}

/// One standard normal draw.
pub fn normal(rng: &mut PointRng) -> f64 {
    StandardNormal.sample(rng)
}
