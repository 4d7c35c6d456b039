//! Helpers shared by the integration tests.

use std::path::Path;
use std::process::{Command, Output};

/// The gncond binary this test run built.
pub const BIN: &str = env!("CARGO_BIN_EXE_gncond");

/// Run gncond from the crate root on the embedded data (never an official data folder of the
/// developer's).
#[allow(dead_code)] // not every test crate runs the binary
pub fn gncond(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GNCOND_EMBEDDED_DATA_DIR")
        .env("GNCOND_DATA_DIR", "target/no-official-data-in-tests")
        .output()
        .expect("gncond runs")
}

/// A path as a command-line argument.
#[allow(dead_code)]
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `gncond check` of `refs`, regenerating into `scratch` (kept there when the check fails) and
/// writing any diff report to `diff`: nothing outside the test's temp dir.
#[allow(dead_code)]
pub fn check(scratch: &Path, refs: &Path, diff: &Path) -> Output {
    gncond(&[
        "check",
        "--scratch",
        s(scratch),
        "--golden",
        s(refs),
        "--diff-dir",
        s(diff),
    ])
}

/// Copy a folder tree (the committed references into a scratch folder, say).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
