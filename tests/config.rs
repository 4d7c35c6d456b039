//! Profiles parse strictly: one line naming the file and the key for anything wrong.

use gncond::config::BUILTIN_PROFILES;
use gncond::plan::{load_profile, parse_profile};
use gncond::Error;

const GOOD: &str = r#"
name = "t"
description = "test"
master_seed = 1

[experiments.depth-width]
n = 100
downsample = 4
whiten = true
depths = [1, 2]
widths = [64]
seeds = 1
"#;

fn err(text: &str) -> String {
    match parse_profile(text, "bad.toml") {
        Err(e @ Error::Config { .. }) => {
            assert_eq!(e.exit_code(), 2);
            let s = e.to_string();
            assert!(!s.contains('\n'), "error spans lines: {s}");
            assert!(s.starts_with("bad.toml: "), "{s}");
            s
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn builtin_profiles_parse() {
    for (name, text) in BUILTIN_PROFILES {
        let p = parse_profile(text, name).unwrap();
        assert_eq!(p.name, name);
        assert!(p.experiments.contains_key("depth-width"));
    }
    assert!(parse_profile(GOOD, "good.toml").is_ok());
}

#[test]
fn unknown_key_is_named() {
    let e = err(&GOOD.replace("seeds = 1", "seeds = 1\nwidht = 3"));
    assert!(e.contains("widht"), "{e}");
    let e = err(&GOOD.replace("[experiments.depth-width]", "[experiments.depth-widht]"));
    assert!(e.contains("depth-widht"), "{e}");
}

#[test]
fn wrong_type_names_the_line() {
    let e = err(&GOOD.replace("widths = [64]", "widths = \"64\""));
    assert!(e.contains("widths"), "{e}");
}

#[test]
fn impossible_values_are_named() {
    let e = err(&GOOD.replace("widths = [64]", "widths = [64, 0]"));
    assert!(e.contains("experiments.depth-width.widths"), "{e}");
    let e = err(&GOOD.replace("n = 100", "n = 0"));
    assert!(
        e.contains("experiments.depth-width.n") && e.contains("0 is impossible"),
        "{e}"
    );
    let e = err(&GOOD.replace("seeds = 1", "seeds = 0"));
    assert!(e.contains("seeds"), "{e}");
    let e = err(&GOOD.replace("downsample = 4", "downsample = 0"));
    assert!(e.contains("downsample"), "{e}");
    // the embedded subset bounds n unless official data may be used
    let embedded = GOOD.replace("master_seed = 1", "master_seed = 1\ndata = \"embedded\"");
    let e = err(&embedded.replace("n = 100", "n = 6000"));
    assert!(
        e.contains("use 1 to 5000 (the embedded MNIST subset"),
        "{e}"
    );
    assert!(parse_profile(&GOOD.replace("n = 100", "n = 6000"), "auto.toml").is_ok());
    let e = err(&GOOD.replace("n = 100", "n = 70000"));
    assert!(
        e.contains("use 1 to 60000 (the official MNIST training set)"),
        "{e}"
    );
    let e = err(&GOOD.replace("master_seed = 1", "master_seed = 1\ndata = \"offline\""));
    assert!(e.contains("data"), "{e}");
    let e = err(&GOOD.replace("depths = [1, 2]", "depths = []"));
    assert!(e.contains("depths"), "{e}");
}

#[test]
fn unknown_profile_name_is_bad_input() {
    let e = load_profile("quik").unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("unknown profile 'quik'"));
}
