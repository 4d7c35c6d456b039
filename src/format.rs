//! Number formatting shared by figures' evidence strings, tables and the report.

/// A number with four significant digits (`∞` for infinity), as tables show it.
pub fn sig(x: f64) -> String {
    sig_digits(x, 4)
}

/// A number with `digits` significant digits (`∞` for infinity).
pub fn sig_digits(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let e = x.abs().log10().floor() as i32;
    let digits = digits.max(1);
    if (-3..6).contains(&e) {
        let decimals = (digits as i32 - 1 - e).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        let decimals = digits - 1;
        format!("{x:.decimals$e}")
    }
}

/// `mean ± std` with four and two significant digits.
pub fn mean_std(mean: f64, std: f64) -> String {
    format!("{} ± {}", sig(mean), sig_digits(std, 2))
}
