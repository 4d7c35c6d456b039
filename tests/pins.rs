//! Pins what the refactors must not change: for every built-in profile and experiment, the
//! grid points (their seed texts, which seed every generator), the cache key of the first
//! point, the configuration recorded in the manifest, the cost estimate and the metadata.
//! A change here changes numbers or invalidates caches: it must be deliberate
//! (`GNCOND_WRITE_PINS=1 cargo test --test pins` rewrites the file; review the diff).

use gncond::config::{Profile, BUILTIN_PROFILES};
use gncond::fsutil::sha256_hex;
use gncond::{experiments, seed};

const PINS: &str = "tests/pins/experiments.txt";

fn pins() -> String {
    let mut out = String::new();
    for (name, _) in BUILTIN_PROFILES {
        let profile = Profile::load(name).unwrap();
        for e in experiments::registry() {
            let points = e.points(&profile);
            let texts: Vec<String> = points
                .iter()
                .map(|p| seed::seed_text(profile.master_seed, e.id(), &p.params, p.replicate))
                .collect();
            let first = texts.first().cloned().unwrap_or_default();
            let cache = gncond::runner::Cache {
                dir: "unused".into(),
                program: "pinned-program".into(),
            };
            let key = if first.is_empty() {
                String::new()
            } else {
                cache.key(&first, "pinned-data")
            };
            let config = e
                .config_json(&profile)
                .map(|v| sha256_hex(serde_json::to_string(&v).unwrap().as_bytes()))
                .unwrap_or_default();
            let cost = e.cost_hint(&profile);
            let weights: Vec<String> = points
                .iter()
                .map(|p| format!("{:e}", e.point_weight(p)))
                .collect();
            out.push_str(&format!(
                "{name} {} points={} seeds_sha={} first_key={} config_sha={} cost={}/{:.6e} weights_sha={} wants={:?} reads_data={} paper={:?} title_sha={}\n  first={first}\n",
                e.id(),
                points.len(),
                &sha256_hex(texts.join("\n").as_bytes())[..16],
                key.get(..16).unwrap_or(""),
                config.get(..16).unwrap_or(""),
                cost.points,
                cost.seconds,
                &sha256_hex(weights.join(",").as_bytes())[..16],
                e.wants(),
                e.reads_data(),
                e.paper_ref(),
                &sha256_hex(e.title().as_bytes())[..16],
            ));
        }
    }
    out
}

#[test]
fn points_seeds_keys_and_configs_are_pinned() {
    let now = pins();
    if std::env::var_os("GNCOND_WRITE_PINS").is_some() {
        std::fs::write(PINS, &now).unwrap();
    }
    let pinned = std::fs::read_to_string(PINS).expect("tests/pins/experiments.txt");
    for (a, b) in pinned.lines().zip(now.lines()) {
        assert_eq!(a, b, "a pinned point, key or config changed");
    }
    assert_eq!(pinned.lines().count(), now.lines().count());
}
