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
use std::cell::RefCell;
use std::collections::BTreeSet;
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
    /// (name, value, what it assumes or, when infinite, why for this network)
    pub bounds: Vec<(&'static str, f64, String)>,
    /// Other exact quantities worth printing: (name, value, what it is).
    pub extras: Vec<(&'static str, f64, String)>,
}

fn bad(file: &str, msg: String) -> Error {
    Error::Input(format!("{file}: {msg}"))
}

/// Entries of larger magnitude overflow float64 when squared (as Σ = XXᵀ/n and every Gram
/// matrix square them); nonzero entries of smaller magnitude underflow.
const MAX_MAGNITUDE: f64 = 1e150;
const MIN_MAGNITUDE: f64 = 1e-150;

/// The multi-index of flat position `i` in a row-major tensor of `shape`, as PyTorch prints it.
fn multi_index(i: usize, shape: &[usize]) -> String {
    let mut idx = vec![0; shape.len()];
    let mut rest = i;
    for (a, &n) in shape.iter().enumerate().rev() {
        idx[a] = rest % n.max(1);
        rest /= n.max(1);
    }
    idx.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tensors of a safetensors file, remembering which ones the architecture read, so that a
/// tensor it does not use is an error instead of a silently different network.
struct Reader<'a> {
    st: SafeTensors<'a>,
    file: &'a str,
    used: RefCell<BTreeSet<String>>,
}

impl<'a> Reader<'a> {
    fn bad(&self, msg: String) -> Error {
        bad(self.file, msg)
    }

    /// Whether the file has a tensor of that name (without reading it).
    fn has(&self, name: &str) -> bool {
        self.st.tensor(name).is_ok()
    }

    /// The shape of a tensor (without reading it), or an error naming it as missing.
    fn shape(&self, name: &str) -> Result<Vec<usize>> {
        match self.st.tensor(name) {
            Ok(t) => Ok(t.shape().to_vec()),
            Err(_) => Err(self.bad(format!("tensor '{name}' is missing"))),
        }
    }

    /// A tensor's shape and values (row-major, as f64), checked for dtype and finiteness;
    /// None when the file has no tensor of that name.
    fn tensor(&self, name: &str) -> Result<Option<(Vec<usize>, Vec<f64>)>> {
        let t = match self.st.tensor(name) {
            Ok(t) => t,
            Err(safetensors::SafeTensorError::TensorNotFound(_)) => return Ok(None),
            Err(e) => return Err(self.bad(format!("tensor '{name}': {e}"))),
        };
        self.used.borrow_mut().insert(name.to_string());
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
                return Err(self.bad(format!(
                    "tensor '{name}' is {other:?}; only F32 and F64 are read"
                )))
            }
        };
        let shape = t.shape().to_vec();
        let out_of_range = |v: &f64| {
            let a = v.abs();
            a != 0.0 && !(MIN_MAGNITUDE..=MAX_MAGNITUDE).contains(&a)
        };
        if let Some(i) = values.iter().position(|v| v.is_finite() && out_of_range(v)) {
            return Err(self.bad(format!(
                "tensor '{name}' holds {:e} at [{}]: values beyond {MAX_MAGNITUDE:e} overflow \
                 float64 when squared (nonzero values below {MIN_MAGNITUDE:e} underflow); rescale it",
                values[i],
                multi_index(i, &shape)
            )));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(self.bad(format!(
                "tensor '{name}' holds a NaN or infinity at [{}]",
                multi_index(i, &shape)
            )));
        }
        Ok(Some((shape, values)))
    }

    /// A 2-D tensor as a matrix (row-major in the file).
    fn matrix(&self, name: &str) -> Result<Option<DMatrix<f64>>> {
        let Some((shape, values)) = self.tensor(name)? else {
            return Ok(None);
        };
        if shape.len() != 2 {
            return Err(self.bad(format!(
                "tensor '{name}' has shape {shape:?}, expected 2 dimensions"
            )));
        }
        Ok(Some(DMatrix::from_row_slice(shape[0], shape[1], &values)))
    }

    fn required(&self, name: &str) -> Result<DMatrix<f64>> {
        self.matrix(name)?
            .ok_or_else(|| self.bad(format!("tensor '{name}' is missing")))
    }

    /// Every tensor of the file must have been read: one that `arch` does not use is an
    /// error naming it, with a hint where the mistake is a common one.
    fn finish(&self, arch: Arch) -> Result<()> {
        let used = self.used.borrow();
        let mut names: Vec<String> = self.st.names().into_iter().map(String::from).collect();
        names.sort();
        let Some(extra) = names.iter().find(|n| !used.contains(String::as_str(n))) else {
            return Ok(());
        };
        let arch_name = format!("{arch:?}").to_lowercase();
        let index = |n: &str| {
            n.strip_suffix(".weight")
                .and_then(|i| i.parse::<usize>().ok())
        };
        let hint = if extra.ends_with("running_mean")
            || extra.ends_with("running_var")
            || extra.ends_with("num_batches_tracked")
        {
            "gncond uses the batch statistics of X: drop the running statistics from the file"
                .to_string()
        } else if extra.ends_with(".bias") {
            "gncond's networks have no biases: save the bias-free model (bias=False)".to_string()
        } else if let (Some(i), Arch::Linear | Arch::Residual) = (index(extra), arch) {
            let read = used.iter().filter(|n| index(n).is_some()).count();
            if i > read {
                format!(
                    "index {read} holds no weight: a nonlinearity? try --arch relu (a two-layer \
                     `Sequential(Linear, ReLU, Linear)` is `0.weight`, `2.weight`)"
                )
            } else {
                format!("--arch {arch_name} reads `0.weight`, `1.weight`, … without gaps")
            }
        } else if let (Some(_), Arch::Relu) = (index(extra), arch) {
            "--arch relu reads a two-layer network (`0.weight`, `2.weight`); deeper ReLU \
             networks are not supported"
                .to_string()
        } else {
            let read: Vec<&str> = used.iter().map(String::as_str).collect();
            format!("--arch {arch_name} reads {}", read.join(", "))
        };
        Err(self.bad(format!(
            "tensor '{extra}' is not part of a --arch {arch_name} network ({hint})"
        )))
    }
}

/// Read the file and compute the spectrum and bounds.
pub fn analyse(file: &Path, arch: Arch, beta: Option<f64>, alpha: f64) -> Result<Report> {
    let bytes = crate::fsutil::read(file)?;
    analyse_bytes(&bytes, &file.display().to_string(), arch, beta, alpha)
}

/// The spectrum and bounds of the network in the safetensors bytes `bytes` (`file` names
/// them in messages). Bad input is an `Error::Input` of one line: an unreadable file, a tensor
/// the architecture does not use, no samples, a zero Gauss-Newton matrix, or weights whose
/// products overflow float64.
pub fn analyse_bytes(
    bytes: &[u8],
    file: &str,
    arch: Arch,
    beta: Option<f64>,
    alpha: f64,
) -> Result<Report> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| bad(file, format!("not a safetensors file ({e})")))?;
    let r = Reader {
        st,
        file,
        used: RefCell::new(BTreeSet::new()),
    };
    let x = r.required("X")?.transpose();
    let (d, n) = x.shape();
    if n == 0 || d == 0 {
        return Err(bad(
            file,
            format!("X is {n}×{d}: it needs at least one sample (row) and one feature"),
        ));
    }
    let report = network_report(&r, &x, arch, beta, alpha).map_err(|e| match e {
        Error::Numerics(m) if m.contains("NaN or infinity") => overflow(file, &r, &x),
        other => other,
    })?;
    let s = report.spectrum.spectrum;
    if !s.lambda_max.is_finite() || (s.lambda_max > 0.0 && !s.kappa.is_finite()) {
        return Err(overflow(file, &r, &x));
    }
    if s.lambda_max <= 0.0 {
        let why = if x.iter().all(|v| *v == 0.0) {
            "X is all zeros"
        } else {
            "the weights block every path from the parameters to the outputs (every \
             Jacobian entry is zero)"
        };
        return Err(bad(
            file,
            format!("the Gauss-Newton matrix is zero, so κ is undefined: {why}"),
        ));
    }
    Ok(report)
}

/// The error for a spectrum that overflows float64, with the sizes that caused it.
fn overflow(file: &str, r: &Reader, x: &DMatrix<f64>) -> Error {
    let largest = |name: &str| -> f64 {
        r.tensor(name)
            .ok()
            .flatten()
            .map(|(_, v)| v.iter().fold(0.0_f64, |m, x| m.max(x.abs())))
            .unwrap_or(0.0)
    };
    let mut names: Vec<String> = r.used.borrow().iter().cloned().collect();
    names.retain(|n| n != "X");
    let w = names.iter().map(|n| largest(n)).fold(0.0_f64, f64::max);
    let xs = x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    bad(
        file,
        format!(
            "the Gauss-Newton matrix overflows float64: the weights (largest |w| = {w:.3e}) and \
             X (largest |x| = {xs:.3e}) multiply out beyond ~1e308; rescale them"
        ),
    )
}

fn network_report(
    r: &Reader,
    x: &DMatrix<f64>,
    arch: Arch,
    beta: Option<f64>,
    alpha: f64,
) -> Result<Report> {
    let (d, n) = x.shape();
    match arch {
        Arch::Linear | Arch::Residual => {
            let mut weights = Vec::new();
            while let Some(w) = r.matrix(&format!("{}.weight", weights.len()))? {
                weights.push(w);
            }
            if weights.is_empty() {
                return Err(r.bad("tensor '0.weight' is missing".into()));
            }
            if weights[0].ncols() != d {
                return Err(r.bad(format!(
                    "tensor '0.weight' has {} inputs but X has d = {d}",
                    weights[0].ncols()
                )));
            }
            let net = DeepLinear::new(weights).map_err(|e| r.bad(e.to_string()))?;
            r.finish(arch)?;
            let beta = match (arch, beta) {
                (Arch::Residual, Some(b)) if b.is_finite() => b,
                (Arch::Residual, _) => {
                    return Err(Error::Input("--arch residual needs a finite --beta".into()))
                }
                _ => 0.0,
            };
            let shifted = net.residual(beta);
            let moment = SecondMoment::of(x)?;
            let pp = shifted.partial_products();
            let spectrum = gn::kronecker_linear(&pp, &moment)?;
            let sv = PartialSingularValues::of(&pp)?;
            let dims = shifted.dims();
            let convex = bounds::b_convex(&sv, moment.kappa);
            let loose = bounds::b_loose(&sv, moment.kappa);
            let mut bounds = vec![
                (
                    if arch == Arch::Residual {
                        "b_residual"
                    } else {
                        "b_convex"
                    },
                    convex,
                    linear_bound_note(&dims, convex),
                ),
                ("b_loose", loose, linear_bound_note(&dims, loose)),
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
                let shift = bounds::b_spectral_shift(&extremes, beta, moment.kappa);
                bounds.push((
                    "b_spectral_shift",
                    shift,
                    if shift.is_finite() {
                        "assumes aligned singular vectors: not a guaranteed bound".into()
                    } else {
                        format!(
                            "infinite: a shifted layer W + βI (β = {beta}) has smallest singular \
                             value 0; assumes aligned singular vectors, not a guaranteed bound"
                        )
                    },
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
        Arch::Cnn => analyse_cnn(r, x),
        Arch::Batchnorm => analyse_batchnorm(r, x),
        Arch::Resnet => analyse_resnet(r, x),
        Arch::Relu => {
            let v = r.required("0.weight")?;
            let w = r.required("2.weight")?;
            r.finish(arch)?;
            if v.ncols() != d {
                return Err(r.bad(format!(
                    "tensor '0.weight' has {} inputs but X has d = {d}",
                    v.ncols()
                )));
            }
            if w.ncols() != v.nrows() {
                return Err(r.bad(format!(
                    "tensor '2.weight' has {} inputs but '0.weight' has {} outputs",
                    w.ncols(),
                    v.nrows()
                )));
            }
            if !(0.0..=1.0).contains(&alpha) {
                return Err(Error::Input(format!("--alpha {alpha} is outside [0, 1]")));
            }
            let (m, k) = (v.nrows(), w.nrows());
            let net = TwoLayer { v, w, alpha };
            let spectrum = gn::two_layer(&net, x)?;
            let blocks = ReluBlocks::of(&net, x)?;
            let relu = bounds::b_relu(&blocks, alpha);
            let style = bounds::b_relu_linear_style(&blocks, alpha);
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
                    ("b_relu", relu, relu_bound_note(relu, alpha, n, d, m)),
                    (
                        "b_relu_linear_style_invalid",
                        style,
                        if style.is_finite() {
                            "the authors' linear-style variant: NOT a valid bound".into()
                        } else {
                            format!(
                                "infinite{}; the authors' linear-style variant: NOT a valid bound",
                                if alpha == 0.0 {
                                    " at α = 0 (it divides by α²)"
                                } else {
                                    ""
                                }
                            )
                        },
                    ),
                ],
                extras: Vec::new(),
            })
        }
    }
}

fn analyse_cnn(r: &Reader, x: &DMatrix<f64>) -> Result<Report> {
    let (d, n) = x.shape();
    let mut convs = Vec::new();
    while r
        .shape(&format!("{}.weight", convs.len()))
        .is_ok_and(|s| s.len() == 3)
    {
        let Some((shape, w)) = r.tensor(&format!("{}.weight", convs.len()))? else {
            break;
        };
        let (out, inp, ks) = (shape[0], shape[1], shape[2]);
        let want_in = if convs.is_empty() {
            1
        } else {
            convs.last().map(|c: &Conv| c.out).unwrap_or(1)
        };
        if inp != want_in || ks == 0 || out == 0 {
            return Err(r.bad(format!(
                "tensor '{}.weight' has shape {shape:?}, expected ({out}, {want_in}, ks)",
                convs.len()
            )));
        }
        convs.push(Conv { out, inp, ks, w });
    }
    if convs.is_empty() {
        return Err(r.bad("tensor '0.weight' (Conv1d, 3 dimensions) is missing".into()));
    }
    let head_name = format!("{}.weight", convs.len() + 1);
    let head = r.required(&head_name)?;
    r.finish(Arch::Cnn)?;
    let shrink: usize = convs.iter().map(|c| c.ks - 1).sum();
    let last = convs.last().map(|c| c.out).unwrap_or(1);
    if shrink >= d || head.ncols() != last * (d - shrink) {
        return Err(r.bad(format!(
            "tensor '{head_name}' has {} inputs, but the convolutions leave {} × {} from d = {d}",
            head.ncols(),
            last,
            d.saturating_sub(shrink)
        )));
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
                "κ of the authors' dense-Toeplitz surrogate".into(),
            ),
            (
                "rank_toeplitz_surrogate",
                sur.spectrum.rank as f64,
                "its numerical rank".into(),
            ),
            (
                "b_convex_toeplitz_surrogate",
                bounds::b_convex(&sv, moment.kappa),
                format!(
                    "B-convex of the surrogate (bounds the surrogate's κ, not the true GN's){}",
                    if bounds::b_convex(&sv, moment.kappa).is_finite() {
                        String::new()
                    } else {
                        format!("; {}", linear_bound_note(&dense.dims(), f64::INFINITY))
                    }
                ),
            ),
        ],
    })
}

fn analyse_batchnorm(r: &Reader, x: &DMatrix<f64>) -> Result<Report> {
    let (d, n) = x.shape();
    let w1 = r.required("0.weight")?;
    let w2 = r.required("2.weight")?;
    let vector = |name: &str| -> Result<DVector<f64>> {
        match r.tensor(name)? {
            Some((shape, v)) if shape == [w1.nrows()] => Ok(DVector::from_vec(v)),
            Some((shape, _)) => Err(r.bad(format!(
                "tensor '{name}' has shape {shape:?}, expected [{}]",
                w1.nrows()
            ))),
            None => Err(r.bad(format!("tensor '{name}' is missing"))),
        }
    };
    let (gamma, beta) = (vector("1.weight")?, vector("1.bias")?);
    r.finish(Arch::Batchnorm)?;
    if w1.ncols() != d || w2.ncols() != w1.nrows() {
        return Err(r.bad(format!(
            "shapes do not chain: X has d = {d}, '0.weight' is {}×{}, '2.weight' is {}×{}",
            w1.nrows(),
            w1.ncols(),
            w2.nrows(),
            w2.ncols()
        )));
    }
    if n < 2 {
        return Err(r.bad("batch norm needs at least 2 samples in X".into()));
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

fn analyse_resnet(r: &Reader, x: &DMatrix<f64>) -> Result<Report> {
    let (d, n) = x.shape();
    let shape_of = |name: &str| r.shape(name);
    if r.has("linear.bias") {
        return Err(r.bad(
            "tensor 'linear.bias' is present: gncond's ResNet has a bias-free head (docs/METHODS.md §2)"
                .into(),
        ));
    }
    let stem = shape_of("conv1.weight")?;
    let head = shape_of("linear.weight")?;
    if stem.len() != 4 || head.len() != 2 {
        return Err(r.bad(
            format!("'conv1.weight' has shape {stem:?} and 'linear.weight' {head:?}; expected 4 and 2 dimensions"),
        ));
    }
    let (w, channels, classes) = (stem[0], stem[1], head[0]);
    let blocks = (0..)
        .take_while(|b| r.has(&format!("layer1.{b}.conv1.weight")))
        .count();
    let side = (1..=d).find(|s| channels * s * s >= d).unwrap_or(0);
    if blocks == 0 || w < 2 || w % 2 == 1 || channels * side * side != d || classes == 0 {
        return Err(r.bad(
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
        let (shape, values) = r
            .tensor(&t.name)?
            .ok_or_else(|| r.bad(format!("tensor '{}' is missing", t.name)))?;
        if shape != t.shape {
            return Err(r.bad(format!(
                "tensor '{}' has shape {shape:?}, expected {:?}",
                t.name, t.shape
            )));
        }
        net.theta[t.range()].copy_from_slice(&values);
    }
    r.finish(Arch::Resnet)?;
    if n < 2 {
        return Err(r.bad("batch norm needs at least 2 samples in X".into()));
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

/// What B-convex or B-loose of a deep linear network with layer sizes `dims` means here: a
/// guaranteed bound, or why it is infinite for this network.
fn linear_bound_note(dims: &[usize], value: f64) -> String {
    if value.is_finite() {
        return "guaranteed upper bound on κ(G_O)".into();
    }
    let (d, k) = (dims[0], *dims.last().expect("dims"));
    let floor = d.max(k);
    match dims[1..dims.len() - 1].iter().find(|&&m| m < floor) {
        Some(m) => format!("infinite: hidden width {m} is below max(d, k) = {floor}"),
        None => "infinite: a partial product of the weights is rank-deficient (its smallest \
                 singular value is 0)"
            .into(),
    }
}

/// What B-relu means here: a guaranteed bound, or why it is infinite for this network
/// (finite when α > 0 and XᵀX ≻ 0, i.e. n ≤ d at full rank, or when F Fᵀ ≻ 0, i.e. m ≥ n
/// at full rank).
fn relu_bound_note(value: f64, alpha: f64, n: usize, d: usize, m: usize) -> String {
    if value.is_finite() {
        return "guaranteed upper bound on κ(G_O)".into();
    }
    let data = if alpha == 0.0 {
        "α = 0 removes the XᵀX block".to_string()
    } else if n > d {
        format!("n = {n} > d = {d} makes XᵀX singular")
    } else {
        "XᵀX is singular (X has rank below n)".to_string()
    };
    let features = if m < n {
        format!("m = {m} < n = {n} makes F Fᵀ singular")
    } else {
        "F Fᵀ is singular (the hidden features have rank below n)".to_string()
    };
    format!("infinite: {data}, and {features}")
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
