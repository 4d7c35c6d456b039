//! The one place where gncond talks to the user while it works: notices (one line each) and
//! progress of long work, on standard error. On a terminal progress is a bar redrawn in place
//! (count, rate, ETA); otherwise it is a plain line every tenth of the work, so logs stay
//! readable. `--quiet` silences both (errors are still printed by the command line).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

static QUIET: AtomicBool = AtomicBool::new(false);
/// Serialises writes to standard error, so that a bar and a notice never interleave.
static STDERR: Mutex<()> = Mutex::new(());

/// Silence notices and progress (for `--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// One line of information, e.g. `depth-width: all 6 points from the cache`.
pub fn notice(line: impl std::fmt::Display) {
    if quiet() {
        return;
    }
    let _guard = STDERR.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!("{line}");
}

/// A finding the user asked for (a difference `check` found): printed even when quiet.
pub fn finding(line: impl std::fmt::Display) {
    let _guard = STDERR.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!("{line}");
}

/// Progress of `total` steps of one task.
pub struct Progress {
    label: String,
    total: usize,
    done: Mutex<usize>,
    started: Instant,
    terminal: bool,
    /// Plain mode prints every `step` steps.
    step: usize,
}

impl Progress {
    /// Start counting `total` steps of the task named `label`.
    pub fn new(label: &str, total: usize) -> Progress {
        Progress {
            label: label.to_string(),
            total,
            done: Mutex::new(0),
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            step: total.div_ceil(10).max(1),
        }
    }

    /// One more step is finished.
    pub fn tick(&self) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        *done += 1;
        let k = *done;
        if quiet() || self.total == 0 {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64();
        let _guard = STDERR.lock().unwrap_or_else(|e| e.into_inner());
        if self.terminal {
            let width = 30;
            let filled = width * k / self.total;
            let rate = k as f64 / secs.max(1e-9);
            let eta = (self.total - k) as f64 / rate.max(1e-9);
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r{}: [{}{}] {k}/{} {} {}   ",
                self.label,
                "#".repeat(filled),
                "-".repeat(width - filled),
                self.total,
                rate_text(rate),
                if k == self.total {
                    format!("done in {}", duration(secs))
                } else {
                    format!("ETA {}", duration(eta))
                }
            );
            if k == self.total {
                let _ = writeln!(err);
            }
            let _ = err.flush();
        } else if k.is_multiple_of(self.step) || k == self.total {
            eprintln!("{}: computed {k}/{} ({secs:.1} s)", self.label, self.total);
        }
    }
}

fn rate_text(per_second: f64) -> String {
    if per_second >= 1.0 {
        format!("{per_second:.1} points/s")
    } else {
        format!("{:.1} s/point", 1.0 / per_second.max(1e-9))
    }
}

/// `42 s`, `3m05s`, `2h04m`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// Redraw the current terminal line with `line` (a byte-count progress bar); nothing when
/// quiet.
pub fn redraw(line: &str) {
    if quiet() {
        return;
    }
    let _guard = STDERR.lock().unwrap_or_else(|e| e.into_inner());
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r{line}");
    let _ = err.flush();
}

/// End a line drawn with [`redraw`].
pub fn end_redraw() {
    if quiet() {
        return;
    }
    let _guard = STDERR.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!();
}
