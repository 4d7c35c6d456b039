//! Pins the first draws of a point's generator: a dependency upgrade that changes the random
//! stream (rand_chacha, rand_distr) or the seed derivation must fail here, loudly.

use gncond::seed::{normal, paired_rng, point_rng, seed_text};
use rand_chacha::rand_core::Rng;

#[test]
fn seed_text_is_canonical() {
    assert_eq!(
        seed_text(
            1,
            "depth-width",
            &[("depth", "3".into()), ("width", "64".into())],
            2
        ),
        "gncond-seed-v1|master=1|experiment=depth-width|depth=3;width=64;|replicate=2"
    );
}

#[test]
fn first_draws_are_pinned() {
    let params = [("depth", "3".to_string()), ("width", "64".to_string())];
    let mut r = point_rng(20241104, "depth-width", &params, 0);
    let words: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
    let normals: Vec<f64> = (0..3).map(|_| normal(&mut r)).collect();
    assert_eq!(words, PINNED_WORDS);
    assert_eq!(normals, PINNED_NORMALS);
}

#[test]
fn points_differ_by_every_part_of_their_key() {
    let p = |d: &str| [("depth", d.to_string())];
    let first = |m, e: &str, d: &str, rep| point_rng(m, e, &p(d), rep).next_u64();
    let base = first(1, "a", "1", 0);
    assert_ne!(base, first(2, "a", "1", 0));
    assert_ne!(base, first(1, "b", "1", 0));
    assert_ne!(base, first(1, "a", "2", 0));
    assert_ne!(base, first(1, "a", "1", 1));
    assert_eq!(base, first(1, "a", "1", 0));
}

const PINNED_WORDS: [u64; 3] = [
    6987981765285716637,
    8352662435734555083,
    16421256387022339528,
];
const PINNED_NORMALS: [f64; 3] = [1.8664660317107693, -0.7468926443584427, -0.8679988951144605];

#[test]
fn paired_points_share_their_stream_and_nothing_else_does() {
    let params =
        |fraction: &str, n: &str| vec![("n", n.to_string()), ("fraction", fraction.into())];
    let first = |mut r: gncond::seed::PointRng| (r.next_u64(), r.next_u64());
    let paired = |p: &[(&str, String)], rep| first(paired_rng(7, "pruning", p, &["fraction"], rep));
    // the shared parameter does not enter the stream ...
    assert_eq!(
        paired(&params("0", "100"), 0),
        paired(&params("0.8", "100"), 0)
    );
    // ... which is the stream of the point without it
    assert_eq!(
        paired(&params("0.8", "100"), 0),
        first(point_rng(7, "pruning", &[("n", "100".into())], 0))
    );
    // every other parameter, the replicate and the experiment still do
    assert_ne!(
        paired(&params("0", "100"), 0),
        paired(&params("0", "200"), 0)
    );
    assert_ne!(
        paired(&params("0", "100"), 0),
        paired(&params("0", "100"), 1)
    );
    assert_ne!(
        paired(&params("0", "100"), 0),
        first(paired_rng(
            7,
            "other",
            &params("0", "100"),
            &["fraction"],
            0
        ))
    );
    // sharing nothing is the point's own generator
    assert_eq!(
        first(paired_rng(7, "pruning", &params("0.8", "100"), &[], 3)),
        first(point_rng(7, "pruning", &params("0.8", "100"), 3))
    );
}
