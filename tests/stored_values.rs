//! How the authors' stored rows are matched to configurations gncond runs (the parts a
//! reviewer is most likely to question).

use gncond::experiments::stored_values::{matching, published, Match};

fn get<'a>(params: &'a str, key: &str) -> Option<&'a str> {
    params.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// The residual notebook's rows with skip connections run as residual networks: β = 1/√2
/// where it is printed, 1/√(L + 2) for L extra hidden layers where the stored code (β = 20) and
/// the printed label ("scaling 1/√L") disagree; the Kaiming bound with β = γ = 1 stays
/// unmatched.
#[test]
fn the_residual_skip_rows_run_with_their_beta() {
    let mut seen = 0;
    for s in published().unwrap() {
        if s.experiment != "residual" || get(&s.params, "skip") != Some("True") {
            continue;
        }
        let m = matching(&s);
        if s.quantity == "b_highprob" {
            assert!(matches!(m, Match::Unmatched(_)), "{s:?}");
            continue;
        }
        let Match::Run { setup, .. } = m else {
            panic!("{s:?} unmatched");
        };
        let beta: f64 = setup.get("beta").unwrap().parse().unwrap();
        let want = match get(&s.params, "L_extra_hidden") {
            Some(l) => 1.0 / ((l.parse::<usize>().unwrap() + 2) as f64).sqrt(),
            None => 0.5f64.sqrt(),
        };
        assert_eq!(beta, want, "{s:?}");
        seen += 1;
    }
    assert_eq!(
        seen, 18,
        "6 κ means at β = 1/√2, 6 κ and 6 B-convex means at 1/√(L + 2)"
    );
}

/// Rows without skip connections stay plain deep linear networks (no β in their setup).
#[test]
fn rows_without_skip_have_no_beta() {
    for s in published().unwrap() {
        if get(&s.params, "skip") == Some("True") {
            continue;
        }
        if let Match::Run { setup, .. } = matching(&s) {
            assert!(setup.get("beta").is_none(), "{s:?}");
        }
    }
}
