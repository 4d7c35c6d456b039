//! Profiles: TOML files in `profiles/` naming each experiment's grid. Parsing is strict: an
//! unknown key, a wrong type or an impossible value is one line naming the file and the key.

use crate::data::{self, EMBEDDED_MNIST_LEN};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The profiles shipped in the repository, embedded so the binary works from any folder.
pub const BUILTIN_PROFILES: [(&str, &str); 3] = [
    ("quick", include_str!("../profiles/quick.toml")),
    ("default", include_str!("../profiles/default.toml")),
    ("paper", include_str!("../profiles/paper.toml")),
];

/// One profile: a name, a master seed and the grid of every experiment it runs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Master seed of every point's generator (see `seed`).
    pub master_seed: u64,
    /// `auto` (official data when installed, else the embedded subset) or `embedded`.
    #[serde(default)]
    pub data: crate::data::DataPolicy,
    pub experiments: ExperimentsConfig,
    /// Where the profile came from (`profiles/quick.toml` or the path given); not in the file.
    #[serde(skip)]
    pub source: String,
    /// SHA-256 of the profile's text, recorded in the manifest.
    #[serde(skip)]
    pub sha256: String,
}

/// The experiments a profile configures; each is optional.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentsConfig {
    #[serde(rename = "depth-width")]
    pub depth_width: Option<DepthWidthConfig>,
    #[serde(rename = "width-scaling")]
    pub width_scaling: Option<WidthScalingConfig>,
    #[serde(rename = "tight-vs-loose")]
    pub tight_vs_loose: Option<TightLooseConfig>,
    #[serde(rename = "kaiming-table")]
    pub kaiming_table: Option<KaimingTableConfig>,
    pub residual: Option<ResidualConfig>,
    #[serde(rename = "partial-products")]
    pub partial_products: Option<PartialProductsConfig>,
    pub whitening: Option<WhiteningConfig>,
    pub cnn: Option<CnnConfig>,
    pub relu: Option<ReluConfig>,
    pub batchnorm: Option<BatchNormConfig>,
    #[serde(rename = "training-dynamics")]
    pub training_dynamics: Option<TrainingDynamicsConfig>,
    #[serde(rename = "width-training")]
    pub width_training: Option<WidthTrainingConfig>,
    pub pruning: Option<PruningConfig>,
    #[serde(rename = "spectrum-rank")]
    pub spectrum_rank: Option<SpectrumRankConfig>,
}

/// Appendix: κ, B-convex and B-loose during SGD training of a deep linear network (MSE,
/// Xavier-normal initialisation).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingDynamicsConfig {
    pub n: usize,
    pub downsample: usize,
    pub whiten: bool,
    /// Hidden width m of every hidden layer.
    pub width: usize,
    /// Number of hidden layers h.
    pub hidden: usize,
    pub epochs: usize,
    /// κ and the bounds every this many epochs (and at 0).
    pub every: usize,
    pub lr: f64,
    pub batch: usize,
    pub seeds: usize,
}

/// Appendix: training loss and κ versus epoch for one hidden layer of several widths, the
/// learning rate of each width picked from `lrs` by a short search.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WidthTrainingConfig {
    pub n: usize,
    pub downsample: usize,
    pub whiten: bool,
    pub widths: Vec<usize>,
    pub epochs: usize,
    /// Loss and κ every this many epochs (and at 0).
    pub every: usize,
    pub batch: usize,
    /// Candidate learning rates; each width uses the one with the lowest loss after
    /// `search_epochs` epochs from the same initialisation and minibatch order.
    pub lrs: Vec<f64>,
    pub search_epochs: usize,
    pub seeds: usize,
}

/// Fig. 1: magnitude pruning at initialisation of a CIFAR-style ResNet, then SGD; training
/// loss every epoch and κ of the Gauss-Newton matrix in the kept parameters at checkpoints.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PruningConfig {
    pub n: usize,
    pub downsample: usize,
    /// Stage widths w, 2w, 4w (16 for ResNet20); must be even.
    pub base_width: usize,
    /// Basic blocks per stage (3 for ResNet20).
    pub blocks_per_stage: usize,
    pub fractions: Vec<f64>,
    pub epochs: usize,
    /// Epochs at which κ is computed (0 = at initialisation, after pruning).
    pub checkpoints: Vec<usize>,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub batch: usize,
    pub seeds: usize,
}

/// Appendix: the ordered nonzero spectrum at initialisation and after training (the
/// training-dynamics model), and κ as a function of the rank assumed around the numerical one.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpectrumRankConfig {
    pub n: usize,
    pub downsample: usize,
    pub whiten: bool,
    pub width: usize,
    pub hidden: usize,
    pub epochs: usize,
    pub lr: f64,
    pub batch: usize,
    /// Assumed ranks from numerical rank − window to numerical rank + window.
    pub window: usize,
}

/// Fig. 6: one hidden linear layer with and without batch norm, κ versus width.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BatchNormConfig {
    pub n: usize,
    pub downsample: usize,
    pub whiten: bool,
    pub widths: Vec<usize>,
    pub seeds: usize,
}

/// Appendix: linear 1-D CNNs, κ versus the number of filters, one panel per kernel size.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CnnConfig {
    pub n: usize,
    pub downsample: usize,
    pub whiten: bool,
    /// Numbers of filters m (channels of every convolution).
    pub filters: Vec<usize>,
    /// Kernel sizes.
    pub kernels: Vec<usize>,
    /// Hidden convolutions after the first.
    pub hidden: usize,
    pub seeds: usize,
}

/// §ReLU: two-layer (leaky) ReLU networks, κ and B-relu versus width per slope α.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReluConfig {
    pub n: usize,
    pub downsample: usize,
    pub whiten: bool,
    pub widths: Vec<usize>,
    /// Negative slopes α in [0, 1] (0 = ReLU, 1 = linear).
    pub alphas: Vec<f64>,
    pub seeds: usize,
}

/// Fig. 2b: κ versus depth h with the width growing in proportion, m = c·h.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WidthScalingConfig {
    pub n: usize,
    pub downsample: usize,
    pub whiten: bool,
    pub depths: Vec<usize>,
    /// The factors c of m = c·h.
    pub multipliers: Vec<usize>,
    pub seeds: usize,
}

/// Fig. 3: κ, B-convex and B-loose versus width for one hidden layer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TightLooseConfig {
    pub n: usize,
    pub downsample: usize,
    pub whiten: bool,
    pub widths: Vec<usize>,
    pub seeds: usize,
}

/// The Kaiming table: B-kaiming against the empirical κ over many initialisations, one hidden
/// layer on whitened data (Σ = I exactly, so only d matters, not the data's content).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KaimingTableConfig {
    pub d: usize,
    pub k: usize,
    /// The deviation t of the tail bound (probability ≥ 1 − 8 e^{−t²/2}).
    pub t: f64,
    pub widths: Vec<usize>,
    /// Initialisations per width.
    pub inits: usize,
}

/// Fig. 5: linear residual networks `W_ℓ + βI`, κ and bounds versus depth per β.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResidualConfig {
    pub n: usize,
    pub downsample: usize,
    pub whiten: bool,
    pub width: usize,
    pub depths: Vec<usize>,
    /// β values: a number, `1/L` or `1/sqrt(L)` (L = h + 1 weight matrices).
    pub betas: Vec<String>,
    pub seeds: usize,
}

/// Appendix: κ and σ_min of the partial products P_in(ℓ), P_out(ℓ) versus ℓ for several depths.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PartialProductsConfig {
    pub downsample: usize,
    pub width: usize,
    /// Numbers of hidden layers h of the networks compared.
    pub depths: Vec<usize>,
    pub seeds: usize,
}

/// Appendix: κ versus depth with and without whitening.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WhiteningConfig {
    pub n: usize,
    pub downsample: usize,
    pub width: usize,
    pub depths: Vec<usize>,
    pub seeds: usize,
}

/// The residual scale β, possibly tied to the number L of weight matrices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Beta {
    Value(f64),
    InvL,
    InvSqrtL,
}

impl Beta {
    /// Parse `0.5`, `1/L` or `1/sqrt(L)`.
    pub fn parse(s: &str) -> std::result::Result<Beta, String> {
        match s.trim() {
            "1/L" => Ok(Beta::InvL),
            "1/sqrt(L)" => Ok(Beta::InvSqrtL),
            other => match other.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(Beta::Value(v)),
                _ => Err(format!(
                    "'{s}' is not a β: use a number ≥ 0, \"1/L\" or \"1/sqrt(L)\""
                )),
            },
        }
    }

    /// The number β for a network of `l` weight matrices.
    pub fn value(self, l: usize) -> f64 {
        match self {
            Beta::Value(v) => v,
            Beta::InvL => 1.0 / l as f64,
            Beta::InvSqrtL => 1.0 / (l as f64).sqrt(),
        }
    }
}

/// Fig. 2a: κ and B-convex of deep linear networks versus depth, one curve per width.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DepthWidthConfig {
    /// Number of samples (the first n of the data set).
    pub n: usize,
    /// Strided subsampling factor f of the 28×28 image (`img[::f, ::f]`).
    pub downsample: usize,
    /// Replace the data by its whitened version (thin SVD), so that κ(Σ) = 1.
    pub whiten: bool,
    /// Numbers of hidden layers h (the network has L = h + 1 weight matrices).
    pub depths: Vec<usize>,
    /// Hidden widths m.
    pub widths: Vec<usize>,
    /// Initialisations per grid point.
    pub seeds: usize,
}

impl Profile {
    /// Load a built-in profile by name (`quick`, `default`, `paper`) or a TOML file by path.
    pub fn load(name_or_path: &str) -> Result<Profile> {
        if let Some((name, text)) = BUILTIN_PROFILES.iter().find(|(n, _)| *n == name_or_path) {
            return Profile::parse(text, &format!("profiles/{name}.toml"));
        }
        let path = Path::new(name_or_path);
        let looks_like_path = name_or_path.ends_with(".toml") || name_or_path.contains('/');
        if !looks_like_path {
            let names: Vec<&str> = BUILTIN_PROFILES.iter().map(|(n, _)| *n).collect();
            return Err(Error::Input(format!(
                "unknown profile '{name_or_path}': use one of {} or a path to a .toml file",
                names.join(", ")
            )));
        }
        let bytes = crate::fsutil::read(path)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Config {
            file: name_or_path.to_string(),
            msg: "not UTF-8 text".into(),
        })?;
        Profile::parse(&text, name_or_path)
    }

    /// Parse and validate profile text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Profile> {
        let mut profile: Profile = toml::from_str(text).map_err(|e| Error::Config {
            file: file.to_string(),
            msg: one_line_toml_error(text, &e),
        })?;
        profile.source = file.to_string();
        profile.sha256 = crate::fsutil::sha256_hex(text.as_bytes());
        profile.validate().map_err(|msg| Error::Config {
            file: file.to_string(),
            msg,
        })?;
        Ok(profile)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        // the embedded subset bounds n, unless official data (60000 MNIST, 50000 CIFAR-10
        // training images) may be used; then a too-large n is reported when the data is loaded
        let max_n = match self.data {
            data::DataPolicy::Embedded => EMBEDDED_MNIST_LEN,
            data::DataPolicy::Auto => 60_000,
        };
        if let Some(c) = &self.experiments.depth_width {
            let at = "experiments.depth-width";
            validate_data(max_n, at, c.n, c.downsample, c.whiten)?;
            positive_list(at, "depths", &c.depths)?;
            positive_list(at, "widths", &c.widths)?;
            at_least_one(at, "seeds", c.seeds)?;
        }
        if let Some(c) = &self.experiments.width_scaling {
            let at = "experiments.width-scaling";
            validate_data(max_n, at, c.n, c.downsample, c.whiten)?;
            positive_list(at, "depths", &c.depths)?;
            positive_list(at, "multipliers", &c.multipliers)?;
            at_least_one(at, "seeds", c.seeds)?;
        }
        if let Some(c) = &self.experiments.tight_vs_loose {
            let at = "experiments.tight-vs-loose";
            validate_data(max_n, at, c.n, c.downsample, c.whiten)?;
            positive_list(at, "widths", &c.widths)?;
            at_least_one(at, "seeds", c.seeds)?;
        }
        if let Some(c) = &self.experiments.kaiming_table {
            let at = "experiments.kaiming-table";
            at_least_one(at, "d", c.d)?;
            at_least_one(at, "k", c.k)?;
            positive_list(at, "widths", &c.widths)?;
            at_least_one(at, "inits", c.inits)?;
            if !(c.t.is_finite() && c.t >= 0.0) {
                return Err(format!("{at}.t: {} is impossible, use a number ≥ 0", c.t));
            }
        }
        if let Some(c) = &self.experiments.residual {
            let at = "experiments.residual";
            validate_data(max_n, at, c.n, c.downsample, c.whiten)?;
            at_least_one(at, "width", c.width)?;
            positive_list(at, "depths", &c.depths)?;
            if c.betas.is_empty() {
                return Err(format!("{at}.betas: must not be empty"));
            }
            for b in &c.betas {
                Beta::parse(b).map_err(|e| format!("{at}.betas: {e}"))?;
            }
            at_least_one(at, "seeds", c.seeds)?;
        }
        if let Some(c) = &self.experiments.partial_products {
            let at = "experiments.partial-products";
            if !(1..=28).contains(&c.downsample) {
                return Err(format!(
                    "{at}.downsample: {} is impossible, use 1 to 28",
                    c.downsample
                ));
            }
            at_least_one(at, "width", c.width)?;
            positive_list(at, "depths", &c.depths)?;
            at_least_one(at, "seeds", c.seeds)?;
        }
        if let Some(c) = &self.experiments.cnn {
            let at = "experiments.cnn";
            validate_data(max_n, at, c.n, c.downsample, c.whiten)?;
            positive_list(at, "filters", &c.filters)?;
            positive_list(at, "kernels", &c.kernels)?;
            at_least_one(at, "seeds", c.seeds)?;
            let d = data::downsampled_dim(28, c.downsample);
            for &ks in &c.kernels {
                if (c.hidden + 1) * (ks.max(1) - 1) >= d {
                    return Err(format!(
                        "{at}.kernels: kernel {ks} with {} convolutions leaves no output of the {d} inputs",
                        c.hidden + 1
                    ));
                }
            }
        }
        if let Some(c) = &self.experiments.relu {
            let at = "experiments.relu";
            validate_data(max_n, at, c.n, c.downsample, c.whiten)?;
            positive_list(at, "widths", &c.widths)?;
            at_least_one(at, "seeds", c.seeds)?;
            if c.alphas.is_empty() || c.alphas.iter().any(|a| !(0.0..=1.0).contains(a)) {
                return Err(format!("{at}.alphas: give slopes in [0, 1]"));
            }
        }
        if let Some(c) = &self.experiments.batchnorm {
            let at = "experiments.batchnorm";
            validate_data(max_n, at, c.n, c.downsample, c.whiten)?;
            positive_list(at, "widths", &c.widths)?;
            at_least_one(at, "seeds", c.seeds)?;
        }
        if let Some(c) = &self.experiments.training_dynamics {
            let at = "experiments.training-dynamics";
            validate_data(max_n, at, c.n, c.downsample, c.whiten)?;
            at_least_one(at, "width", c.width)?;
            at_least_one(at, "hidden", c.hidden)?;
            at_least_one(at, "every", c.every)?;
            at_least_one(at, "batch", c.batch)?;
            at_least_one(at, "seeds", c.seeds)?;
            positive_rate(at, "lr", c.lr)?;
        }
        if let Some(c) = &self.experiments.width_training {
            let at = "experiments.width-training";
            validate_data(max_n, at, c.n, c.downsample, c.whiten)?;
            positive_list(at, "widths", &c.widths)?;
            at_least_one(at, "every", c.every)?;
            at_least_one(at, "batch", c.batch)?;
            at_least_one(at, "seeds", c.seeds)?;
            if c.lrs.is_empty() {
                return Err(format!("{at}.lrs: must not be empty"));
            }
            for &lr in &c.lrs {
                positive_rate(at, "lrs", lr)?;
            }
        }
        if let Some(c) = &self.experiments.pruning {
            let at = "experiments.pruning";
            validate_data(max_n, at, c.n, c.downsample, false)?;
            if c.base_width < 2 || c.base_width % 2 == 1 {
                return Err(format!(
                    "{at}.base_width: {} is impossible, use an even width of at least 2",
                    c.base_width
                ));
            }
            at_least_one(at, "blocks_per_stage", c.blocks_per_stage)?;
            at_least_one(at, "batch", c.batch)?;
            at_least_one(at, "seeds", c.seeds)?;
            positive_rate(at, "lr", c.lr)?;
            if c.fractions.is_empty() || c.fractions.iter().any(|f| !(0.0..1.0).contains(f)) {
                return Err(format!("{at}.fractions: give pruning fractions in [0, 1)"));
            }
            if c.checkpoints.is_empty() || c.checkpoints.iter().any(|&e| e > c.epochs) {
                return Err(format!(
                    "{at}.checkpoints: give epochs between 0 and epochs = {}",
                    c.epochs
                ));
            }
            if !(0.0..1.0).contains(&c.momentum) || c.weight_decay < 0.0 {
                return Err(format!(
                    "{at}: momentum must be in [0, 1) and weight_decay at least 0"
                ));
            }
        }
        if let Some(c) = &self.experiments.spectrum_rank {
            let at = "experiments.spectrum-rank";
            validate_data(max_n, at, c.n, c.downsample, c.whiten)?;
            at_least_one(at, "width", c.width)?;
            at_least_one(at, "hidden", c.hidden)?;
            at_least_one(at, "batch", c.batch)?;
            at_least_one(at, "window", c.window)?;
            positive_rate(at, "lr", c.lr)?;
        }
        if let Some(c) = &self.experiments.whitening {
            let at = "experiments.whitening";
            validate_data(max_n, at, c.n, c.downsample, true)?;
            at_least_one(at, "width", c.width)?;
            positive_list(at, "depths", &c.depths)?;
            at_least_one(at, "seeds", c.seeds)?;
        }
        Ok(())
    }
}

fn positive_rate(at: &str, key: &str, v: f64) -> std::result::Result<(), String> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(format!(
            "{at}.{key}: {v} is impossible, a learning rate must be positive"
        ))
    }
}

fn at_least_one(at: &str, key: &str, v: usize) -> std::result::Result<(), String> {
    if v == 0 {
        Err(format!("{at}.{key}: must be at least 1"))
    } else {
        Ok(())
    }
}

fn positive_list(at: &str, key: &str, values: &[usize]) -> std::result::Result<(), String> {
    if values.is_empty() {
        return Err(format!("{at}.{key}: must not be empty"));
    }
    if values.contains(&0) {
        return Err(format!(
            "{at}.{key}: 0 is impossible, every value must be at least 1"
        ));
    }
    Ok(())
}

fn validate_data(
    max_n: usize,
    at: &str,
    n: usize,
    f: usize,
    whiten: bool,
) -> std::result::Result<(), String> {
    if !(1..=28).contains(&f) {
        return Err(format!("{at}.downsample: {f} is impossible, use 1 to 28"));
    }
    if n == 0 || n > max_n {
        let what = if max_n == EMBEDDED_MNIST_LEN {
            "the embedded MNIST subset; data = \"auto\" allows official data"
        } else {
            "the official MNIST training set"
        };
        return Err(format!(
            "{at}.n: {n} is impossible, use 1 to {max_n} ({what})"
        ));
    }
    let d = data::downsampled_dim(28, f);
    if whiten && n < d {
        return Err(format!(
            "{at}.n: whitening needs n >= d, but n = {n} < d = {d} (downsample = {f})"
        ));
    }
    Ok(())
}

/// toml's messages span several lines; ours name the line and its text on one.
fn one_line_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
            format!("line {line_no} (`{line}`): {msg}")
        }
        None => msg,
    }
}
