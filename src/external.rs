//! `gncond spectrum`: the exact Gauss-Newton spectrum and every applicable bound for a network
//! whose weights and data come from a safetensors file, so a reviewer can check our numbers
//! against their own PyTorch model.
//!
//! Tensor names and layouts are those of PyTorch's `state_dict` of the equivalent
//! `nn.Sequential` with `bias=False`: deep linear and residual nets `0.weight`, `1.weight`, …
//! (each `out × in`); the two-layer ReLU net `Sequential(Linear, LeakyReLU, Linear)`:
//! `0.weight` (m×d) and `2.weight` (k×m); plus the inputs `X` (n×d). f32 or f64.

use crate::bounds::{self, PartialSingularValues, ReluBlocks};
use crate::data::SecondMoment;
use crate::gn::{self, GnSpectrum};
use crate::linalg;
use crate::nets::{DeepLinear, TwoLayer};
use crate::{Error, Result};
use nalgebra::DMatrix;
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
}

/// What the command prints: the spectrum, its route, and the bounds that apply.
#[derive(Debug, Clone)]
pub struct Report {
    pub arch: Arch,
    pub sizes: Vec<(&'static str, usize)>,
    pub spectrum: GnSpectrum,
    /// (name, value, why it is infinite or what it assumes)
    pub bounds: Vec<(&'static str, f64, &'static str)>,
}

fn bad(file: &Path, msg: String) -> Error {
    Error::Input(format!("{}: {msg}", file.display()))
}

/// A 2-D tensor as a matrix (row-major in the file), checked for shape and finiteness.
fn matrix(st: &SafeTensors, file: &Path, name: &str) -> Result<Option<DMatrix<f64>>> {
    let t = match st.tensor(name) {
        Ok(t) => t,
        Err(safetensors::SafeTensorError::TensorNotFound(_)) => return Ok(None),
        Err(e) => return Err(bad(file, format!("tensor '{name}': {e}"))),
    };
    let shape = t.shape();
    if shape.len() != 2 {
        return Err(bad(
            file,
            format!("tensor '{name}' has shape {shape:?}, expected 2 dimensions"),
        ));
    }
    let (rows, cols) = (shape[0], shape[1]);
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
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(
            file,
            format!(
                "tensor '{name}' holds a NaN or infinity at [{}, {}]",
                i / cols,
                i % cols
            ),
        ));
    }
    Ok(Some(DMatrix::from_row_slice(rows, cols, &values)))
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
            })
        }
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
            })
        }
    }
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
        for (name, v, why) in &self.bounds {
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
        for (name, v, why) in &self.bounds {
            out.push_str(&format!("{name} = {v:.10e}  ({why})\n"));
        }
        out
    }
}
