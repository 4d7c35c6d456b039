//! Linear 1-D CNNs in the authors' layout (docs/METHODS.md §2): the flattened image (length d, one
//! channel) goes through `Conv1d(1→m, ks)`, then h hidden `Conv1d(m→m, ks)` (no padding,
//! stride 1, no bias), then is flattened channel-major and mapped by `Linear(m·d_L → k)`.
//! PyTorch's Conv1d is a cross-correlation: `y[c, p] = Σ_{c', t} w[c, c', t] x[c', p + t]`.
//!
//! Two Gauss-Newton matrices exist: the **true** one in the filter parameters, and the
//! authors' **dense-Toeplitz surrogate**, which treats each convolution's Toeplitz matrix as a
//! free deep linear layer (many more parameters, another rank and another κ).

use super::init::kaiming_normal;
use super::DeepLinear;
use crate::seed::PointRng;
use nalgebra::DMatrix;

/// One convolution: weights `w[o][i][t]` stored row-major as PyTorch does, at `(o·inp + i)·ks + t`.
#[derive(Debug, Clone)]
pub struct Conv {
    pub out: usize,
    pub inp: usize,
    pub ks: usize,
    pub w: Vec<f64>,
}

impl Conv {
    fn at(&self, o: usize, i: usize, t: usize) -> f64 {
        self.w[(o * self.inp + i) * self.ks + t]
    }
}

/// A linear CNN: convolutions then a linear head.
#[derive(Debug, Clone)]
pub struct LinearCnn {
    /// Input length d.
    pub d: usize,
    pub convs: Vec<Conv>,
    /// k × (m · d_L), acting on the channel-major flattening.
    pub head: DMatrix<f64>,
}

impl LinearCnn {
    /// Kaiming-normal (fan-in, gain 1) network: `hidden` convolutions after the first.
    /// Returns None when the kernel is too long for the input (no output positions left).
    pub fn kaiming(
        d: usize,
        m: usize,
        ks: usize,
        hidden: usize,
        k: usize,
        rng: &mut PointRng,
    ) -> Option<LinearCnn> {
        let shrink = (hidden + 1) * (ks - 1);
        if ks == 0 || shrink >= d {
            return None;
        }
        let mut convs = Vec::new();
        for l in 0..=hidden {
            let inp = if l == 0 { 1 } else { m };
            let w = kaiming_normal(m, inp * ks, 1.0, rng);
            // kaiming_normal draws row by row, i.e. in (o, i·ks + t) order: PyTorch's layout
            let flat: Vec<f64> = (0..m)
                .flat_map(|o| (0..inp * ks).map(move |c| (o, c)))
                .map(|(o, c)| w[(o, c)])
                .collect();
            convs.push(Conv {
                out: m,
                inp,
                ks,
                w: flat,
            });
        }
        let head = kaiming_normal(k, m * (d - shrink), 1.0, rng);
        Some(LinearCnn { d, convs, head })
    }

    /// Length of the signal entering conv ℓ (0-based) and, last, after all convolutions.
    pub fn lengths(&self) -> Vec<usize> {
        let mut l = vec![self.d];
        for c in &self.convs {
            l.push(l.last().expect("non-empty") - (c.ks - 1));
        }
        l
    }

    /// Number of filter and head parameters.
    pub fn num_params(&self) -> usize {
        self.convs.iter().map(|c| c.w.len()).sum::<usize>() + self.head.len()
    }

    /// Parameters in the Jacobian's column order: every conv's weights (o, i, t), then the
    /// head row by row.
    pub fn params(&self) -> Vec<f64> {
        let mut p: Vec<f64> = self
            .convs
            .iter()
            .flat_map(|c| c.w.iter().copied())
            .collect();
        for o in 0..self.head.nrows() {
            p.extend(self.head.row(o).iter());
        }
        p
    }

    /// The same architecture with parameters `theta` (in `params` order).
    pub fn with_params(&self, theta: &[f64]) -> LinearCnn {
        let mut at = 0;
        let convs = self
            .convs
            .iter()
            .map(|c| {
                let w = theta[at..at + c.w.len()].to_vec();
                at += c.w.len();
                Conv { w, ..c.clone() }
            })
            .collect();
        let (k, f) = self.head.shape();
        let head = DMatrix::from_row_slice(k, f, &theta[at..at + k * f]);
        LinearCnn {
            d: self.d,
            convs,
            head,
        }
    }

    /// Direct convolution of one channel-major signal (inp × len) → (out × len − ks + 1).
    fn conv_apply(c: &Conv, a: &[f64], len: usize) -> Vec<f64> {
        let lo = len - (c.ks - 1);
        let mut y = vec![0.0; c.out * lo];
        for o in 0..c.out {
            for i in 0..c.inp {
                for t in 0..c.ks {
                    let w = c.at(o, i, t);
                    for p in 0..lo {
                        y[o * lo + p] += w * a[i * len + p + t];
                    }
                }
            }
        }
        y
    }

    /// Activations entering each conv and, last, the flattened features, for one sample.
    fn activations(&self, x: &[f64]) -> Vec<Vec<f64>> {
        let lens = self.lengths();
        let mut acts = vec![x.to_vec()];
        for (c, &len) in self.convs.iter().zip(&lens) {
            let next = Self::conv_apply(c, acts.last().expect("non-empty"), len);
            acts.push(next);
        }
        acts
    }

    /// Outputs (k×n) for inputs X (d×n), by direct convolution (independent of `toeplitz`).
    pub fn forward(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let mut out = DMatrix::zeros(self.head.nrows(), x.ncols());
        for i in 0..x.ncols() {
            let col: Vec<f64> = x.column(i).iter().copied().collect();
            let feats = self.activations(&col).pop().expect("non-empty");
            let y = &self.head * nalgebra::DVector::from_vec(feats);
            out.set_column(i, &y);
        }
        out
    }

    /// The dense-Toeplitz surrogate: each convolution as its (out·len_out) × (inp·len_in)
    /// Toeplitz matrix, then the head, as a deep linear network.
    pub fn toeplitz(&self) -> DeepLinear {
        let mut weights = self.toeplitz_convs();
        weights.push(self.head.clone());
        DeepLinear { weights }
    }

    /// The Toeplitz matrix of every convolution, first to last, without the head (the
    /// network the authors' CNN formula describes, docs/METHODS.md §7):
    /// `T[o·len_out + p, i·len_in + p + s] = w[o, i, s]`.
    pub fn toeplitz_convs(&self) -> Vec<DMatrix<f64>> {
        let lens = self.lengths();
        let mut weights = Vec::new();
        for (l, c) in self.convs.iter().enumerate() {
            let (li, lo) = (lens[l], lens[l + 1]);
            let mut t = DMatrix::zeros(c.out * lo, c.inp * li);
            for o in 0..c.out {
                for i in 0..c.inp {
                    for s in 0..c.ks {
                        for p in 0..lo {
                            t[(o * lo + p, i * li + p + s)] = c.at(o, i, s);
                        }
                    }
                }
            }
            weights.push(t);
        }
        weights
    }

    /// The Jacobian in the filter and head parameters, `J ∈ R^{nk×p}` (row `i·k + o`):
    /// `∂f_o/∂w_ℓ[c, c', t] = Σ_p P_out(ℓ)[o, c·len + p] · a_{ℓ-1}[c'·len_in + p + t]`, with
    /// `P_out(ℓ)` the product of the later Toeplitz matrices and the head; head entries are the
    /// features.
    pub fn jacobian(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let k = self.head.nrows();
        let n = x.ncols();
        let lens = self.lengths();
        let p_out = self.toeplitz().partial_products().p_out;
        let mut jac = DMatrix::zeros(n * k, self.num_params());
        for s in 0..n {
            let col: Vec<f64> = x.column(s).iter().copied().collect();
            let acts = self.activations(&col);
            let mut at = 0;
            for (l, c) in self.convs.iter().enumerate() {
                let (li, lo) = (lens[l], lens[l + 1]);
                let a = &acts[l];
                let po = &p_out[l];
                for o in 0..c.out {
                    for i in 0..c.inp {
                        for t in 0..c.ks {
                            let col = at + (o * c.inp + i) * c.ks + t;
                            for out in 0..k {
                                let mut v = 0.0;
                                for p in 0..lo {
                                    v += po[(out, o * lo + p)] * a[i * li + p + t];
                                }
                                jac[(s * k + out, col)] = v;
                            }
                        }
                    }
                }
                at += c.w.len();
            }
            let feats = acts.last().expect("non-empty");
            let f = feats.len();
            for out in 0..k {
                for (j, v) in feats.iter().enumerate() {
                    jac[(s * k + out, at + out * f + j)] = *v;
                }
            }
        }
        jac
    }
}
