//! `gncond spectrum`: the exact Gauss-Newton spectrum and every applicable bound for a network
//! whose weights and data come from a safetensors file, so a reviewer can check our numbers
//! against their own PyTorch model.
//!
//! Tensor names and layouts are those of PyTorch's `state_dict` of the equivalent
//! `nn.Sequential` with `bias=False`: deep linear and residual nets `0.weight`, `1.weight`, …
//! (each `out × in`); the two-layer ReLU net `Sequential(Linear, LeakyReLU, Linear)`:
//! `0.weight` (m×d) and `2.weight` (k×m); the linear CNN `Sequential(Conv1d, …, Flatten,
//! Linear)`: `0.weight` … (out × in × ks) and the head after the flatten; batch norm
//! `Sequential(Linear, BatchNorm1d, Linear)`: `0.weight`, `1.weight`, `1.bias`, `2.weight`;
//! plus the inputs `X` (n×d; for the CNN the flattened one-channel signal). f32 or f64.

use crate::bounds::{self, PartialSingularValues, ReluBlocks};
use crate::data::SecondMoment;
use crate::gn::{self, GnSpectrum};
use crate::linalg;
use crate::nets::batchnorm::BN_EPS;
use crate::nets::cnn::Conv;
use crate::nets::{BatchNormNet, BnMode, DeepLinear, LinearCnn, ResNet, ResNetSpec, TwoLayer};
use crate::{Error, Result};
use nalgebra::{DMatrix, DVector};
use safetensors::{Dtype, SafeTensors};
use serde_json::{json, Value};
use std::path::Path;

/// The architectures `gncond spectrum` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// Deep linear `W_L ⋯ W_1 x`: tensors `0.weight`, `1.weight`, …
    Linear,
    /// Linear residual, every layer `W_ℓ + βI` (needs `--beta`): tensors as for linear.
    Residual,
    /// Two-layer leaky ReLU `W σ(V x)` (slope `--alpha`): tensors `0.weight`, `2.weight`.
    Relu,
    /// Linear 1-D CNN `Sequential(Conv1d(1→m), Conv1d(m→m) × h, Flatten, Linear)`: tensors
    /// `0.weight` … `h.weight` (m × in × ks) and `(h+2).weight` (k × m·d_L).
    Cnn,
    /// `Sequential(Linear(d→m), BatchNorm1d(m), Linear(m→k))` with batch statistics:
    /// tensors `0.weight`, `1.weight` (γ), `1.bias` (β), `2.weight`.
    Batchnorm,
    /// CIFAR-style ResNet (option-A shortcuts, bias-free head) with batch statistics over X:
    /// tensors `conv1.weight`, `bn1.weight`, `bn1.bias`, `layer{1,2,3}.{b}.conv{1,2}.weight`,
    /// `layer{1,2,3}.{b}.bn{1,2}.{weight,bias}`, `linear.weight`; square images, X in CHW order.
    Resnet,
}

/// What the command prints: the spectrum, its route, and the bounds that apply.
#[derive(Debug, Clone)]
pub struct Report {
    pub arch: Arch,
    pub sizes: Vec<(&'static str, usize)>,
    pub spectrum: GnSpectrum,
    /// (name, value, why it is infinite or what it assumes)
    pub bounds: Vec<(&'static str, f64, &'static str)>,
    /// Other exact quantities worth printing: (name, value, what it is).
    pub extras: Vec<(&'static str, f64, &'static str)>,
}

fn bad(file: &Path, msg: String) -> Error {
    Error::Input(format!("{}: {msg}", file.display()))
}

/// A tensor's shape and values (row-major, as f64), checked for dtype and finiteness; None
/// when the file has no tensor of that name.
fn tensor(st: &SafeTensors, file: &Path, name: &str) -> Result<Option<(Vec<usize>, Vec<f64>)>> {
    let t = match st.tensor(name) {
        Ok(t) => t,
        Err(safetensors::SafeTensorError::TensorNotFound(_)) => return Ok(None),
        Err(e) => return Err(bad(file, format!("tensor '{name}': {e}"))),
    };
    let bytes = t.data();
    let values: Vec<f64> = match t.dtype() {
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes(c.try_into().expect("4 bytes"))))
            .collect(),
        other => {
            return Err(bad(
                file,
                format!("tensor '{name}' is {other:?}; only F32 and F64 are read"),
            ))
        }
    };
    let shape = t.shape().to_vec();
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        // the multi-index of flat position i, as PyTorch would print it
        let mut idx = vec![0; shape.len()];
        let mut rest = i;
        for (a, &n) in shape.iter().enumerate().rev() {
            idx[a] = rest % n.max(1);
            rest /= n.max(1);
        }
        let idx: Vec<String> = idx.iter().map(|v| v.to_string()).collect();
        return Err(bad(
            file,
            format!(
                "tensor '{name}' holds a NaN or infinity at [{}]",
                idx.join(", ")
            ),
        ));
    }
    Ok(Some((shape, values)))
}

/// A 2-D tensor as a matrix (row-major in the file).
fn matrix(st: &SafeTensors, file: &Path, name: &str) -> Result<Option<DMatrix<f64>>> {
    let Some((shape, values)) = tensor(st, file, name)? else {
        return Ok(None);
    };
    if shape.len() != 2 {
        return Err(bad(
            file,
            format!("tensor '{name}' has shape {shape:?}, expected 2 dimensions"),
        ));
    }
    Ok(Some(DMatrix::from_row_slice(shape[0], shape[1], &values)))
}

fn required(st: &SafeTensors, file: &Path, name: &str) -> Result<DMatrix<f64>> {
    matrix(st, file, name)?.ok_or_else(|| bad(file, format!("tensor '{name}' is missing")))
}

/// Read the file and compute the spectrum and bounds.
pub fn analyse(file: &Path, arch: Arch, beta: Option<f64>, alpha: f64) -> Result<Report> {
    let bytes = crate::fsutil::read(file)?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(file, format!("not a safetensors file ({e})")))?;
    let x = required(&st, file, "X")?.transpose();
    let (d, n) = x.shape();
    match arch {
        Arch::Linear | Arch::Residual => {
            let mut weights = Vec::new();
            while let Some(w) = matrix(&st, file, &format!("{}.weight", weights.len()))? {
                weights.push(w);
            }
            if weights.is_empty() {
                return Err(bad(file, "tensor '0.weight' is missing".into()));
            }
            if weights[0].ncols() != d {
                return Err(bad(
                    file,
                    format!(
                        "tensor '0.weight' has {} inputs but X has d = {d}",
                        weights[0].ncols()
                    ),
                ));
            }
            let net = DeepLinear::new(weights).map_err(|e| bad(file, e.to_string()))?;
            let beta = match (arch, beta) {
                (Arch::Residual, Some(b)) if b.is_finite() => b,
                (Arch::Residual, _) => {
                    return Err(Error::Input("--arch residual needs a finite --beta".into()))
                }
                _ => 0.0,
            };
            let shifted = net.residual(beta);
            let moment = SecondMoment::of(&x)?;
            let pp = shifted.partial_products();
            let spectrum = gn::kronecker_linear(&pp, &moment)?;
            let sv = PartialSingularValues::of(&pp)?;
            let dims = shifted.dims();
            let mut bounds = vec![
                (
                    if arch == Arch::Residual {
                        "b_residual"
                    } else {
                        "b_convex"
                    },
                    bounds::b_convex(&sv, moment.kappa),
                    "infinite when a width is below max(d, k)",
                ),
                (
                    "b_loose",
                    bounds::b_loose(&sv, moment.kappa),
                    "infinite when a width is below max(d, k)",
                ),
            ];
            if arch == Arch::Residual {
                let extremes = net
                    .weights
                    .iter()
                    .map(|w| {
                        let s = linalg::singular_values(w)?;
                        Ok((s[0], *s.last().expect("non-empty")))
                    })
                    .collect::<Result<Vec<_>>>()?;
                bounds.push((
                    "b_spectral_shift",
                    bounds::b_spectral_shift(&extremes, beta, moment.kappa),
                    "assumes aligned singular vectors: not a guaranteed bound",
                ));
            }
            Ok(Report {
                arch,
                sizes: vec![
                    ("n", n),
                    ("d", d),
                    ("k", *dims.last().expect("dims")),
                    ("layers", dims.len() - 1),
                    ("p", shifted.num_params()),
                    ("sigma_rank", moment.rank),
                ],
                spectrum,
                bounds,
                extras: Vec::new(),
            })
        }
        Arch::Cnn => analyse_cnn(&st, file, &x),
        Arch::Batchnorm => analyse_batchnorm(&st, file, &x),
        Arch::Resnet => analyse_resnet(&st, file, &x),
        Arch::Relu => {
            let v = required(&st, file, "0.weight")?;
            let w = required(&st, file, "2.weight")?;
            if v.ncols() != d {
                return Err(bad(
                    file,
                    format!(
                        "tensor '0.weight' has {} inputs but X has d = {d}",
                        v.ncols()
                    ),
                ));
            }
            if w.ncols() != v.nrows() {
                return Err(bad(
                    file,
                    format!(
                        "tensor '2.weight' has {} inputs but '0.weight' has {} outputs",
                        w.ncols(),
                        v.nrows()
                    ),
                ));
            }
            if !(0.0..=1.0).contains(&alpha) {
                return Err(Error::Input(format!("--alpha {alpha} is outside [0, 1]")));
            }
            let (m, k) = (v.nrows(), w.nrows());
            let net = TwoLayer { v, w, alpha };
            let spectrum = gn::two_layer(&net, &x)?;
            let blocks = ReluBlocks::of(&net, &x)?;
            Ok(Report {
                arch,
                sizes: vec![
                    ("n", n),
                    ("d", d),
                    ("m", m),
                    ("k", k),
                    ("p", net.num_params()),
                ],
                spectrum,
                bounds: vec![
                    (
                        "b_relu",
                        bounds::b_relu(&blocks, alpha),
                        "infinite unless α > 0 and n ≤ d, or m ≥ n",
                    ),
                    (
                        "b_relu_linear_style_invalid",
                        bounds::b_relu_linear_style(&blocks, alpha),
                        "the authors' linear-style variant: NOT a valid bound",
                    ),
                ],
                extras: Vec::new(),
            })
        }
    }
}

fn analyse_cnn(st: &SafeTensors, file: &Path, x: &DMatrix<f64>) -> Result<Report> {
    let (d, n) = x.shape();
    let mut convs = Vec::new();
    while let Some((shape, w)) = tensor(st, file, &format!("{}.weight", convs.len()))? {
        if shape.len() != 3 {
            break;
        }
        let (out, inp, ks) = (shape[0], shape[1], shape[2]);
        let want_in = if convs.is_empty() {
            1
        } else {
            convs.last().map(|c: &Conv| c.out).unwrap_or(1)
        };
        if inp != want_in || ks == 0 {
            return Err(bad(
                file,
                format!(
                    "tensor '{}.weight' has shape {shape:?}, expected ({out}, {want_in}, ks)",
                    convs.len()
                ),
            ));
        }
        convs.push(Conv { out, inp, ks, w });
    }
    if convs.is_empty() {
        return Err(bad(
            file,
            "tensor '0.weight' (Conv1d, 3 dimensions) is missing".into(),
        ));
    }
    let head_name = format!("{}.weight", convs.len() + 1);
    let head = required(st, file, &head_name)?;
    let shrink: usize = convs.iter().map(|c| c.ks - 1).sum();
    let last = convs.last().map(|c| c.out).unwrap_or(1);
    if shrink >= d || head.ncols() != last * (d - shrink) {
        return Err(bad(
            file,
            format!(
                "tensor '{head_name}' has {} inputs, but the convolutions leave {} × {} from d = {d}",
                head.ncols(),
                last,
                d.saturating_sub(shrink)
            ),
        ));
    }
    let net = LinearCnn { d, convs, head };
    let spectrum = gn::cnn_filters(&net, x)?;
    let dense = net.toeplitz();
    let moment = SecondMoment::of(x)?;
    let pp = dense.partial_products();
    let sur = gn::kronecker_linear(&pp, &moment)?;
    let sv = PartialSingularValues::of(&pp)?;
    let k = net.head.nrows();
    Ok(Report {
        arch: Arch::Cnn,
        sizes: vec![
            ("n", n),
            ("d", d),
            ("k", k),
            ("p", net.num_params()),
            ("p_toeplitz", dense.num_params()),
        ],
        spectrum,
        bounds: Vec::new(),
        extras: vec![
            (
                "kappa_toeplitz_surrogate",
                sur.spectrum.kappa,
                "κ of the authors' dense-Toeplitz surrogate",
            ),
            (
                "rank_toeplitz_surrogate",
                sur.spectrum.rank as f64,
                "its numerical rank",
            ),
            (
                "b_convex_toeplitz_surrogate",
                bounds::b_convex(&sv, moment.kappa),
                "B-convex of the surrogate (bounds the surrogate's κ, not the true GN's)",
            ),
        ],
    })
}

fn analyse_batchnorm(st: &SafeTensors, file: &Path, x: &DMatrix<f64>) -> Result<Report> {
    let (d, n) = x.shape();
    let w1 = required(st, file, "0.weight")?;
    let w2 = required(st, file, "2.weight")?;
    let vector = |name: &str| -> Result<DVector<f64>> {
        match tensor(st, file, name)? {
            Some((shape, v)) if shape == [w1.nrows()] => Ok(DVector::from_vec(v)),
            Some((shape, _)) => Err(bad(
                file,
                format!(
                    "tensor '{name}' has shape {shape:?}, expected [{}]",
                    w1.nrows()
                ),
            )),
            None => Err(bad(file, format!("tensor '{name}' is missing"))),
        }
    };
    let (gamma, beta) = (vector("1.weight")?, vector("1.bias")?);
    if w1.ncols() != d || w2.ncols() != w1.nrows() {
        return Err(bad(
            file,
            format!(
                "shapes do not chain: X has d = {d}, '0.weight' is {}×{}, '2.weight' is {}×{}",
                w1.nrows(),
                w1.ncols(),
                w2.nrows(),
                w2.ncols()
            ),
        ));
    }
    if n < 2 {
        return Err(bad(file, "batch norm needs at least 2 samples in X".into()));
    }
    let (m, k) = (w1.nrows(), w2.nrows());
    let net = BatchNormNet {
        w1,
        gamma,
        beta,
        w2,
        eps: BN_EPS,
    };
    let spectrum = gn::batchnorm(&net, x)?;
    Ok(Report {
        arch: Arch::Batchnorm,
        sizes: vec![
            ("n", n),
            ("d", d),
            ("m", m),
            ("k", k),
            ("p", net.num_params()),
        ],
        spectrum,
        bounds: Vec::new(),
        extras: Vec::new(),
    })
}

fn analyse_resnet(st: &SafeTensors, file: &Path, x: &DMatrix<f64>) -> Result<Report> {
    let (d, n) = x.shape();
    let shape_of = |name: &str| -> Result<Vec<usize>> {
        match st.tensor(name) {
            Ok(t) => Ok(t.shape().to_vec()),
            Err(_) => Err(bad(file, format!("tensor '{name}' is missing"))),
        }
    };
    if st.tensor("linear.bias").is_ok() {
        return Err(bad(
            file,
            "tensor 'linear.bias' is present: gncond's ResNet has a bias-free head (docs/METHODS.md §2)"
                .into(),
        ));
    }
    let stem = shape_of("conv1.weight")?;
    let head = shape_of("linear.weight")?;
    if stem.len() != 4 || head.len() != 2 {
        return Err(bad(
            file,
            format!("'conv1.weight' has shape {stem:?} and 'linear.weight' {head:?}; expected 4 and 2 dimensions"),
        ));
    }
    let (w, channels, classes) = (stem[0], stem[1], head[0]);
    let blocks = (0..)
        .take_while(|b| st.tensor(&format!("layer1.{b}.conv1.weight")).is_ok())
        .count();
    let side = (1..=d).find(|s| channels * s * s >= d).unwrap_or(0);
    if blocks == 0 || w < 2 || w % 2 == 1 || channels * side * side != d {
        return Err(bad(
            file,
            format!(
                "not a CIFAR-style ResNet this command reads: {blocks} block(s) in layer1, stem width {w} (must be even), X has d = {d}, which is not {channels}·side² for a square image"
            ),
        ));
    }
    let spec = ResNetSpec {
        channels,
        height: side,
        width: side,
        base_width: w,
        blocks_per_stage: blocks,
        classes,
    };
    let mut net = ResNet::new(spec);
    for t in net.tensors.clone() {
        let (shape, values) = tensor(st, file, &t.name)?
            .ok_or_else(|| bad(file, format!("tensor '{}' is missing", t.name)))?;
        if shape != t.shape {
            return Err(bad(
                file,
                format!(
                    "tensor '{}' has shape {shape:?}, expected {:?}",
                    t.name, t.shape
                ),
            ));
        }
        net.theta[t.range()].copy_from_slice(&values);
    }
    if n < 2 {
        return Err(bad(file, "batch norm needs at least 2 samples in X".into()));
    }
    let spectrum = gn::resnet(&net, x, BnMode::Batch)?;
    Ok(Report {
        arch: Arch::Resnet,
        sizes: vec![
            ("n", n),
            ("d", d),
            ("width", w),
            ("blocks_per_stage", blocks),
            ("k", classes),
            ("p", net.num_params()),
        ],
        spectrum,
        bounds: Vec::new(),
        extras: Vec::new(),
    })
}

/// A float as JSON: a number, or the string "inf" where a bound is undefined.
fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        json!(if v > 0.0 { "inf" } else { "nan" })
    }
}

impl Report {
    /// One JSON object with the spectrum, route, sizes and bounds.
    pub fn to_json(&self) -> Value {
        let s = self.spectrum.spectrum;
        let mut obj = serde_json::Map::new();
        obj.insert(
            "arch".into(),
            json!(format!("{:?}", self.arch).to_lowercase()),
        );
        for (k, v) in &self.sizes {
            obj.insert((*k).into(), json!(v));
        }
        obj.insert("kappa".into(), num(s.kappa));
        obj.insert("lambda_max".into(), num(s.lambda_max));
        obj.insert("lambda_min_nonzero".into(), num(s.lambda_min_nonzero));
        obj.insert("rank".into(), json!(s.rank));
        obj.insert("rank_theory".into(), json!(self.spectrum.rank_theory));
        obj.insert("rank_threshold".into(), num(s.threshold));
        obj.insert("route".into(), json!(self.spectrum.route.as_str()));
        obj.insert("order".into(), json!(self.spectrum.order));
        for (name, v, why) in self.bounds.iter().chain(&self.extras) {
            obj.insert((*name).into(), num(*v));
            obj.insert(format!("{name}_note"), json!(why));
        }
        Value::Object(obj)
    }

    /// Human-readable lines.
    pub fn to_text(&self) -> String {
        let s = self.spectrum.spectrum;
        let sizes: Vec<String> = self.sizes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut out = format!(
            "{:?} network, {}\nκ(G_O) = {:.10e}  (λ_max = {:.6e}, λ_min⁺ = {:.6e})\nrank = {}{}, threshold {:.3e}, route {} (order {})\n",
            self.arch,
            sizes.join(" "),
            s.kappa,
            s.lambda_max,
            s.lambda_min_nonzero,
            s.rank,
            self.spectrum
                .rank_theory
                .map(|r| format!(" (theory {r})"))
                .unwrap_or_default(),
            s.threshold,
            self.spectrum.route.as_str(),
            self.spectrum.order
        );
        for (name, v, why) in self.bounds.iter().chain(&self.extras) {
            out.push_str(&format!("{name} = {v:.10e}  ({why})\n"));
        }
        out
    }
}
