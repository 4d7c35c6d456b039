//! The closed-form bounds: where they are finite, and that they bound κ where a theorem says
//! so (B-kaiming is probabilistic: checked on many draws against its probability level).

use gncond::bounds::{b_kaiming, b_kaiming_probability, b_spectral_shift};
use gncond::gn;
use gncond::nets::init::kaiming_normal;
use gncond::seed::point_rng;

#[test]
fn b_kaiming_is_infinite_where_the_tail_bounds_are_vacuous() {
    // √m must exceed √d + t and √k + t: with d = k = 5, t = 3, that is m > 27.4
    assert!(b_kaiming(27, 5, 5, 3.0, 1.0).is_infinite());
    assert!(b_kaiming(28, 5, 5, 3.0, 1.0).is_finite());
    assert!(b_kaiming(100, 5, 50, 3.0, 1.0).is_infinite());
    // κ(Σ) scales it, and it decreases towards κ(Σ) as the width grows
    let (a, b) = (
        b_kaiming(100, 5, 5, 3.0, 1.0),
        b_kaiming(100, 5, 5, 3.0, 2.0),
    );
    assert!((b - 2.0 * a).abs() < 1e-12 * b);
    let widths = [40, 100, 1000, 10_000, 1_000_000];
    let values: Vec<f64> = widths
        .iter()
        .map(|&m| b_kaiming(m, 5, 5, 3.0, 1.0))
        .collect();
    assert!(values.windows(2).all(|w| w[1] < w[0]), "{values:?}");
    // the excess decays like (√d + √k + t)/√m ≈ 0.005 here, times about 4
    assert!(values[4] > 1.0 && values[4] < 1.03, "{values:?}");
    assert!((b_kaiming_probability(3.0) - (1.0 - 8.0 * (-4.5f64).exp())).abs() < 1e-15);
}

#[test]
fn b_kaiming_holds_with_its_probability_on_random_draws() {
    let (d, k, t) = (5, 5, 2.0);
    let allowed = 1.0 - b_kaiming_probability(t);
    for m in [40, 120] {
        let bound = b_kaiming(m, d, k, t, 1.0);
        let mut r = point_rng(3, "bounds-test", &[("m", m.to_string())], 0);
        let draws = 400;
        let above = (0..draws)
            .filter(|_| {
                let w1 = kaiming_normal(m, d, 1.0, &mut r);
                let w2 = kaiming_normal(k, m, 1.0, &mut r);
                gn::kronecker_sum_one_hidden(&w1, &w2, 1.0)
                    .unwrap()
                    .spectrum
                    .kappa
                    > bound
            })
            .count();
        assert!(
            (above as f64) / (draws as f64) <= allowed,
            "m = {m}: {above} of {draws} draws above B-kaiming = {bound}"
        );
    }
}

#[test]
fn spectral_shift_by_hand() {
    // two layers with (s₁, s_r) = (2, 1) and (3, 1), β = 1:
    // Π ((s₁+β)/(s_r+β))² = (3/2)² (4/2)² = 9; Σ(s₁+β)⁻² = 1/9 + 1/16; Σ(s_r+β)⁻² = 1/4 + 1/4
    let v = b_spectral_shift(&[(2.0, 1.0), (3.0, 1.0)], 1.0, 1.0);
    let want = 9.0 * (1.0 / 9.0 + 1.0 / 16.0) / 0.5;
    assert!((v - want).abs() < 1e-12 * want, "{v} vs {want}");
    // a singular layer without shift makes it infinite, never NaN
    assert!(b_spectral_shift(&[(2.0, 0.0)], 0.0, 1.0).is_infinite());
}
