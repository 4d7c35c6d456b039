//! CIFAR-style ResNet (docs/METHODS.md §2, "Small ResNet"): a 3×3 stem convolution with batch norm and
//! ReLU, three stages of basic blocks of widths w, 2w, 4w (the first block of stages 2 and 3
//! has stride 2), global average pooling and a bias-free linear head. ResNet20 is 3 blocks per
//! stage with w = 16.
//!
//! A basic block is `relu(bn₂(conv₂(relu(bn₁(conv₁(x))))) + shortcut(x))`. Where the shape
//! changes the shortcut is parameter-free ("option A" of the original CIFAR ResNet):
//! `x[:, :, ::2, ::2]` with the new channels zero-padded, half in front and half behind.
//! All convolutions are 3×3 with padding 1 and no bias.
//!
//! Everything is float64 and written out by hand in reverse mode: `forward` keeps a tape,
//! `backward` turns an output cotangent `∂L/∂f` (n×k) into `∂L/∂θ`. The Jacobian is one
//! backward pass per output row; its rows are sample-major, output-minor (row `i·k + o`), its
//! columns follow [`ResNet::tensors`].
//!
//! Batch norm has two modes ([`BnMode`]): `Batch` uses the statistics of the batch being
//! evaluated (PyTorch's training mode: biased variance, ε = 1e-5) and differentiates through
//! them, so every sample's output depends on every other sample; `Frozen` uses given
//! statistics as constants (PyTorch's evaluation mode with running statistics equal to the
//! given ones), so the network is a per-sample function.

use super::batchnorm::BN_EPS;
use crate::seed::{normal, PointRng};
use nalgebra::DMatrix;

/// Architecture of a CIFAR-style ResNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResNetSpec {
    /// Input channels (1 for grayscale, 3 for colour).
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// Width w of the first stage; stages have w, 2w, 4w channels. Must be even.
    pub base_width: usize,
    /// Basic blocks per stage (3 for ResNet20).
    pub blocks_per_stage: usize,
    /// Number of outputs k.
    pub classes: usize,
}

impl ResNetSpec {
    /// ResNet20 on `channels`×`height`×`width` images with `classes` outputs.
    pub fn resnet20(channels: usize, height: usize, width: usize, classes: usize) -> ResNetSpec {
        ResNetSpec {
            channels,
            height,
            width,
            base_width: 16,
            blocks_per_stage: 3,
            classes,
        }
    }

    /// Input dimension d = channels · height · width (CHW order).
    pub fn input_dim(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Number of layers with weights: stem + 2 per block + head (20 for ResNet20).
    pub fn depth(&self) -> usize {
        2 + 6 * self.blocks_per_stage
    }
}

/// What a parameter tensor is; pruning and weight decay treat them differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorKind {
    Conv,
    BnWeight,
    BnBias,
    Linear,
}

/// One parameter tensor: PyTorch-style name, place in θ, shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub offset: usize,
    pub shape: Vec<usize>,
    pub kind: TensorKind,
}

impl TensorInfo {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True for a tensor with no entries (never produced by [`ResNet`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tensor's slice of θ.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// How batch norm computes its statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BnMode {
    /// Statistics of the evaluated batch, differentiated through (coupled samples).
    Batch,
    /// Given statistics, held constant (a per-sample function).
    Frozen,
}

/// Per-channel mean and `s = √(var + ε)` of one batch-norm layer.
#[derive(Debug, Clone, PartialEq)]
pub struct BnStats {
    pub mean: Vec<f64>,
    pub s: Vec<f64>,
}

/// An activation tensor of shape n×c×h×w, stored contiguously in that order.
#[derive(Debug, Clone, PartialEq)]
struct Act {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    data: Vec<f64>,
}

impl Act {
    fn zeros(n: usize, c: usize, h: usize, w: usize) -> Act {
        Act {
            n,
            c,
            h,
            w,
            data: vec![0.0; n * c * h * w],
        }
    }

    fn plane(&self) -> usize {
        self.h * self.w
    }
}

/// Layer indices into θ of one basic block.
#[derive(Debug, Clone)]
struct Block {
    conv1: usize,
    bn1: (usize, usize),
    conv2: usize,
    bn2: (usize, usize),
    c_in: usize,
    c_out: usize,
    stride: usize,
}

/// A CIFAR-style ResNet with its parameters θ.
#[derive(Debug, Clone)]
pub struct ResNet {
    pub spec: ResNetSpec,
    /// All parameters, tensor after tensor in the order of [`ResNet::tensors`].
    pub theta: Vec<f64>,
    pub tensors: Vec<TensorInfo>,
    stem: usize,
    stem_bn: (usize, usize),
    blocks: Vec<Block>,
    head: usize,
}

/// Forward caches of one batch-norm layer.
#[derive(Debug, Clone)]
struct BnTape {
    xhat: Act,
    s: Vec<f64>,
}

#[derive(Debug, Clone)]
struct BlockTape {
    input: Act,
    bn1: BnTape,
    /// relu(bn₁(conv₁ x)): input of conv₂ and the ReLU mask.
    mid: Act,
    bn2: BnTape,
    /// Block output after the final ReLU (its mask).
    out: Act,
}

/// Everything the backward pass needs from a forward pass.
#[derive(Debug, Clone)]
pub struct Tape {
    mode: BnMode,
    input: Act,
    stem_bn: BnTape,
    stem_out: Act,
    blocks: Vec<BlockTape>,
    pooled: Vec<f64>,
    /// n×k outputs, row i = sample i.
    pub output: DMatrix<f64>,
    /// The statistics each batch-norm layer used, in network order.
    pub stats: Vec<BnStats>,
}

impl ResNet {
    /// The architecture with every weight zero, γ = 1 and β = 0 (use [`ResNet::kaiming`] or
    /// fill `theta` tensor by tensor).
    pub fn new(spec: ResNetSpec) -> ResNet {
        assert!(
            spec.base_width >= 2 && spec.base_width.is_multiple_of(2),
            "base width must be even"
        );
        assert!(spec.blocks_per_stage >= 1 && spec.classes >= 1);
        let mut tensors = Vec::new();
        let mut add = |name: String, shape: Vec<usize>, kind: TensorKind| -> usize {
            let offset = tensors
                .last()
                .map_or(0, |t: &TensorInfo| t.offset + t.len());
            tensors.push(TensorInfo {
                name,
                offset,
                shape,
                kind,
            });
            tensors.len() - 1
        };
        let w = spec.base_width;
        let stem = add(
            "conv1.weight".into(),
            vec![w, spec.channels, 3, 3],
            TensorKind::Conv,
        );
        let stem_bn = (
            add("bn1.weight".into(), vec![w], TensorKind::BnWeight),
            add("bn1.bias".into(), vec![w], TensorKind::BnBias),
        );
        let mut blocks = Vec::new();
        let mut c_in = w;
        for stage in 0..3 {
            let c_out = w << stage;
            for b in 0..spec.blocks_per_stage {
                let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                let p = format!("layer{}.{b}", stage + 1);
                let conv1 = add(
                    format!("{p}.conv1.weight"),
                    vec![c_out, c_in, 3, 3],
                    TensorKind::Conv,
                );
                let bn1 = (
                    add(format!("{p}.bn1.weight"), vec![c_out], TensorKind::BnWeight),
                    add(format!("{p}.bn1.bias"), vec![c_out], TensorKind::BnBias),
                );
                let conv2 = add(
                    format!("{p}.conv2.weight"),
                    vec![c_out, c_out, 3, 3],
                    TensorKind::Conv,
                );
                let bn2 = (
                    add(format!("{p}.bn2.weight"), vec![c_out], TensorKind::BnWeight),
                    add(format!("{p}.bn2.bias"), vec![c_out], TensorKind::BnBias),
                );
                blocks.push(Block {
                    conv1,
                    bn1,
                    conv2,
                    bn2,
                    c_in,
                    c_out,
                    stride,
                });
                c_in = c_out;
            }
        }
        let head = add(
            "linear.weight".into(),
            vec![spec.classes, 4 * w],
            TensorKind::Linear,
        );
        let total = tensors.last().map_or(0, |t| t.offset + t.len());
        let mut theta = vec![0.0; total];
        for t in tensors.iter().filter(|t| t.kind == TensorKind::BnWeight) {
            theta[t.range()].fill(1.0);
        }
        ResNet {
            spec,
            theta,
            tensors,
            stem,
            stem_bn,
            blocks,
            head,
        }
    }

    /// Kaiming-normal initialisation (fan-in): gain √2 for the convolutions, which feed ReLUs,
    /// gain 1 for the linear head; γ = 1, β = 0 as PyTorch initialises batch norm. Entries are
    /// drawn tensor after tensor in PyTorch's storage order.
    pub fn kaiming(spec: ResNetSpec, rng: &mut PointRng) -> ResNet {
        let mut net = ResNet::new(spec);
        for t in &net.tensors {
            let fan_in: usize = t.shape[1..].iter().product();
            let slice = &mut net.theta[t.range()];
            match t.kind {
                TensorKind::Conv | TensorKind::Linear => {
                    let gain = if t.kind == TensorKind::Conv {
                        2f64.sqrt()
                    } else {
                        1.0
                    };
                    let std = gain / (fan_in as f64).sqrt();
                    for v in slice.iter_mut() {
                        *v = std * normal(rng);
                    }
                }
                TensorKind::BnWeight | TensorKind::BnBias => {}
            }
        }
        net
    }

    /// Number of parameters p.
    pub fn num_params(&self) -> usize {
        self.theta.len()
    }

    /// The same architecture with parameters `theta`.
    pub fn with_params(&self, theta: &[f64]) -> ResNet {
        assert_eq!(theta.len(), self.theta.len());
        ResNet {
            theta: theta.to_vec(),
            ..self.clone()
        }
    }

    fn t(&self, i: usize) -> &[f64] {
        &self.theta[self.tensors[i].range()]
    }

    fn input(&self, x: &DMatrix<f64>) -> Act {
        let s = &self.spec;
        assert_eq!(x.nrows(), s.input_dim(), "input dimension");
        let mut a = Act::zeros(x.ncols(), s.channels, s.height, s.width);
        for i in 0..x.ncols() {
            a.data[i * s.input_dim()..(i + 1) * s.input_dim()]
                .copy_from_slice(x.column(i).as_slice());
        }
        a
    }

    /// Outputs (n×k, row = sample) of the batch `x` (d×n, one column per sample, CHW order)
    /// with batch statistics.
    pub fn forward(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        self.forward_tape(x, BnMode::Batch, None).output
    }

    /// Outputs with the given batch-norm statistics held fixed (per-sample function).
    pub fn forward_frozen(&self, x: &DMatrix<f64>, stats: &[BnStats]) -> DMatrix<f64> {
        self.forward_tape(x, BnMode::Frozen, Some(stats)).output
    }

    /// Forward pass keeping the tape. `stats` is required for `Frozen` and ignored for `Batch`.
    pub fn forward_tape(&self, x: &DMatrix<f64>, mode: BnMode, stats: Option<&[BnStats]>) -> Tape {
        let frozen = match mode {
            BnMode::Batch => None,
            BnMode::Frozen => Some(stats.expect("frozen batch norm needs statistics")),
        };
        let mut layer = 0;
        let mut next_stats = || {
            let s = frozen.map(|f| &f[layer]);
            layer += 1;
            s
        };
        let input = self.input(x);
        let mut used = Vec::new();
        let z = conv_forward(&input, self.t(self.stem), self.spec.base_width, 1);
        let (y, stem_bn, st) = bn_forward(
            z,
            self.t(self.stem_bn.0),
            self.t(self.stem_bn.1),
            next_stats(),
        );
        used.push(st);
        let stem_out = relu(y);
        let mut h = stem_out.clone();
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            let z1 = conv_forward(&h, self.t(b.conv1), b.c_out, b.stride);
            let (y1, bn1, st1) = bn_forward(z1, self.t(b.bn1.0), self.t(b.bn1.1), next_stats());
            let mid = relu(y1);
            let z2 = conv_forward(&mid, self.t(b.conv2), b.c_out, 1);
            let (mut y2, bn2, st2) = bn_forward(z2, self.t(b.bn2.0), self.t(b.bn2.1), next_stats());
            used.push(st1);
            used.push(st2);
            let sc = shortcut_forward(&h, b.c_out, b.stride);
            for (v, s) in y2.data.iter_mut().zip(&sc.data) {
                *v += s;
            }
            let out = relu(y2);
            blocks.push(BlockTape {
                input: std::mem::replace(&mut h, out.clone()),
                bn1,
                mid,
                bn2,
                out,
            });
        }
        let (n, c, plane) = (h.n, h.c, h.plane());
        let mut pooled = vec![0.0; n * c];
        for (p, chunk) in pooled.iter_mut().zip(h.data.chunks(plane)) {
            *p = chunk.iter().sum::<f64>() / plane as f64;
        }
        let k = self.spec.classes;
        let head = self.t(self.head);
        let output = DMatrix::from_fn(n, k, |i, o| {
            (0..c).map(|j| head[o * c + j] * pooled[i * c + j]).sum()
        });
        Tape {
            mode,
            input,
            stem_bn,
            stem_out,
            blocks,
            pooled,
            output,
            stats: used,
        }
    }

    /// `∂L/∂θ` from the output cotangent `dy = ∂L/∂f` (n×k, row = sample), by reverse mode
    /// through the tape. In `Batch` mode the gradient flows through the batch statistics.
    pub fn backward(&self, tape: &Tape, dy: &DMatrix<f64>) -> Vec<f64> {
        let coupled = tape.mode == BnMode::Batch;
        let mut grad = vec![0.0; self.theta.len()];
        let k = self.spec.classes;
        let last = tape.blocks.last().map_or(&tape.stem_out, |b| &b.out);
        let (n, c, plane) = (last.n, last.c, last.plane());
        assert_eq!((dy.nrows(), dy.ncols()), (n, k), "cotangent shape");
        // head: f_io = Σ_j W_oj g_ij
        let head = self.t(self.head);
        let gh = &mut grad[self.tensors[self.head].range()];
        let mut dpool = vec![0.0; n * c];
        for i in 0..n {
            for o in 0..k {
                let g = dy[(i, o)];
                if g == 0.0 {
                    continue;
                }
                for j in 0..c {
                    gh[o * c + j] += g * tape.pooled[i * c + j];
                    dpool[i * c + j] += g * head[o * c + j];
                }
            }
        }
        // global average pooling
        let mut dh = Act::zeros(n, c, last.h, last.w);
        for (chunk, &g) in dh.data.chunks_mut(plane).zip(&dpool) {
            chunk.fill(g / plane as f64);
        }
        for (b, bt) in self.blocks.iter().zip(&tape.blocks).rev() {
            relu_backward(&mut dh, &bt.out);
            // residual branch
            let (dz2, dg, db) = bn_backward(&bt.bn2, self.t(b.bn2.0), &dh, coupled);
            add_to(&mut grad, &self.tensors[b.bn2.0], &dg);
            add_to(&mut grad, &self.tensors[b.bn2.1], &db);
            let (mut dmid, dw2) = conv_backward(&bt.mid, self.t(b.conv2), &dz2, 1, true);
            add_to(&mut grad, &self.tensors[b.conv2], &dw2);
            relu_backward(&mut dmid, &bt.mid);
            let (dz1, dg, db) = bn_backward(&bt.bn1, self.t(b.bn1.0), &dmid, coupled);
            add_to(&mut grad, &self.tensors[b.bn1.0], &dg);
            add_to(&mut grad, &self.tensors[b.bn1.1], &db);
            let (dx, dw1) = conv_backward(&bt.input, self.t(b.conv1), &dz1, b.stride, true);
            add_to(&mut grad, &self.tensors[b.conv1], &dw1);
            // shortcut
            let mut dsc = shortcut_backward(&dh, b.c_in, b.stride, &bt.input);
            for (v, s) in dsc.data.iter_mut().zip(&dx.data) {
                *v += s;
            }
            dh = dsc;
        }
        relu_backward(&mut dh, &tape.stem_out);
        let (dz, dg, db) = bn_backward(&tape.stem_bn, self.t(self.stem_bn.0), &dh, coupled);
        add_to(&mut grad, &self.tensors[self.stem_bn.0], &dg);
        add_to(&mut grad, &self.tensors[self.stem_bn.1], &db);
        let (_, dw) = conv_backward(&tape.input, self.t(self.stem), &dz, 1, false);
        add_to(&mut grad, &self.tensors[self.stem], &dw);
        grad
    }

    /// Batch statistics of every batch-norm layer on `x`, in network order.
    pub fn batch_stats(&self, x: &DMatrix<f64>) -> Vec<BnStats> {
        self.forward_tape(x, BnMode::Batch, None).stats
    }

    /// The nk×p Jacobian of the batch function (batch statistics, samples coupled): one
    /// backward pass through the whole batch per output row.
    pub fn jacobian(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let tape = self.forward_tape(x, BnMode::Batch, None);
        let (n, k) = (x.ncols(), self.spec.classes);
        let mut jac = DMatrix::zeros(n * k, self.num_params());
        let mut dy = DMatrix::zeros(n, k);
        for i in 0..n {
            for o in 0..k {
                dy[(i, o)] = 1.0;
                let g = self.backward(&tape, &dy);
                dy[(i, o)] = 0.0;
                for (j, v) in g.into_iter().enumerate() {
                    jac[(i * k + o, j)] = v;
                }
            }
        }
        jac
    }

    /// The nk×p Jacobian with batch-norm statistics `stats` held fixed: each sample on its
    /// own, k backward passes of one sample each.
    pub fn jacobian_frozen(&self, x: &DMatrix<f64>, stats: &[BnStats]) -> DMatrix<f64> {
        let (n, k) = (x.ncols(), self.spec.classes);
        let mut jac = DMatrix::zeros(n * k, self.num_params());
        let mut dy = DMatrix::zeros(1, k);
        for i in 0..n {
            let xi = x.columns(i, 1).into_owned();
            let tape = self.forward_tape(&xi, BnMode::Frozen, Some(stats));
            for o in 0..k {
                dy[(0, o)] = 1.0;
                let g = self.backward(&tape, &dy);
                dy[(0, o)] = 0.0;
                for (j, v) in g.into_iter().enumerate() {
                    jac[(i * k + o, j)] = v;
                }
            }
        }
        jac
    }
}

fn add_to(grad: &mut [f64], t: &TensorInfo, g: &[f64]) {
    for (a, b) in grad[t.range()].iter_mut().zip(g) {
        *a += b;
    }
}

fn out_size(size: usize, stride: usize) -> usize {
    (size - 1) / stride + 1
}

/// 3×3 convolution, padding 1: `z[n,o,y,x] = Σ_{c,a,b} w[o,c,a,b] · in[n,c,y·s+a−1,x·s+b−1]`.
fn conv_forward(input: &Act, w: &[f64], c_out: usize, stride: usize) -> Act {
    let (ho, wo) = (out_size(input.h, stride), out_size(input.w, stride));
    let mut out = Act::zeros(input.n, c_out, ho, wo);
    let c_in = input.c;
    for n in 0..input.n {
        for o in 0..c_out {
            let dst = &mut out.data[(n * c_out + o) * ho * wo..(n * c_out + o + 1) * ho * wo];
            for c in 0..c_in {
                let src =
                    &input.data[(n * c_in + c) * input.plane()..(n * c_in + c + 1) * input.plane()];
                for a in 0..3 {
                    for b in 0..3 {
                        let wv = w[((o * c_in + c) * 3 + a) * 3 + b];
                        for y in 0..ho {
                            let iy = (y * stride + a) as isize - 1;
                            if iy < 0 || iy as usize >= input.h {
                                continue;
                            }
                            let row = &src[iy as usize * input.w..(iy as usize + 1) * input.w];
                            for x in 0..wo {
                                let ix = (x * stride + b) as isize - 1;
                                if ix >= 0 && (ix as usize) < input.w {
                                    dst[y * wo + x] += wv * row[ix as usize];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// Adjoint of [`conv_forward`]: `(∂L/∂in, ∂L/∂w)` from `∂L/∂z`; `∂L/∂in` only if asked.
fn conv_backward(
    input: &Act,
    w: &[f64],
    dz: &Act,
    stride: usize,
    want_dx: bool,
) -> (Act, Vec<f64>) {
    let (c_in, c_out, ho, wo) = (input.c, dz.c, dz.h, dz.w);
    let mut dx = Act::zeros(input.n, c_in, input.h, input.w);
    let mut dw = vec![0.0; w.len()];
    let plane = input.plane();
    for n in 0..input.n {
        for o in 0..c_out {
            let g = &dz.data[(n * c_out + o) * ho * wo..(n * c_out + o + 1) * ho * wo];
            if g.iter().all(|&v| v == 0.0) {
                continue;
            }
            for c in 0..c_in {
                let base = (n * c_in + c) * plane;
                for a in 0..3 {
                    for b in 0..3 {
                        let wi = ((o * c_in + c) * 3 + a) * 3 + b;
                        let wv = w[wi];
                        let mut acc = 0.0;
                        for y in 0..ho {
                            let iy = (y * stride + a) as isize - 1;
                            if iy < 0 || iy as usize >= input.h {
                                continue;
                            }
                            let r = base + iy as usize * input.w;
                            for x in 0..wo {
                                let ix = (x * stride + b) as isize - 1;
                                if ix >= 0 && (ix as usize) < input.w {
                                    let gv = g[y * wo + x];
                                    acc += gv * input.data[r + ix as usize];
                                    if want_dx {
                                        dx.data[r + ix as usize] += gv * wv;
                                    }
                                }
                            }
                        }
                        dw[wi] += acc;
                    }
                }
            }
        }
    }
    (dx, dw)
}

/// Batch norm per channel: `y = γ (z − μ)/s + β`, `s = √(var + ε)` with the biased variance
/// over samples and positions (or the given statistics). Returns output, tape and statistics.
fn bn_forward(
    z: Act,
    gamma: &[f64],
    beta: &[f64],
    given: Option<&BnStats>,
) -> (Act, BnTape, BnStats) {
    let (n, c, plane) = (z.n, z.c, z.plane());
    let count = (n * plane) as f64;
    let stats = match given {
        Some(s) => s.clone(),
        None => {
            let mut mean = vec![0.0; c];
            let mut s = vec![0.0; c];
            for ch in 0..c {
                let vals = (0..n)
                    .flat_map(|i| z.data[(i * c + ch) * plane..(i * c + ch + 1) * plane].iter());
                mean[ch] = vals.clone().sum::<f64>() / count;
                let var = vals.map(|v| (v - mean[ch]).powi(2)).sum::<f64>() / count;
                s[ch] = (var + BN_EPS).sqrt();
            }
            BnStats { mean, s }
        }
    };
    let mut xhat = z;
    let mut y = Act::zeros(xhat.n, c, xhat.h, xhat.w);
    for i in 0..n {
        for ch in 0..c {
            let r = (i * c + ch) * plane..(i * c + ch + 1) * plane;
            for (xv, yv) in xhat.data[r.clone()].iter_mut().zip(&mut y.data[r]) {
                *xv = (*xv - stats.mean[ch]) / stats.s[ch];
                *yv = gamma[ch] * *xv + beta[ch];
            }
        }
    }
    let tape = BnTape {
        xhat,
        s: stats.s.clone(),
    };
    (y, tape, stats)
}

/// Adjoint of [`bn_forward`]: `∂L/∂β = Σ dy`, `∂L/∂γ = Σ dy·ẑ`, and with `ĝ = γ dy`,
/// `∂L/∂z = (ĝ − mean ĝ − ẑ · mean(ĝ ẑ)) / s` through batch statistics (`coupled`), or
/// `ĝ / s` with frozen statistics.
fn bn_backward(tape: &BnTape, gamma: &[f64], dy: &Act, coupled: bool) -> (Act, Vec<f64>, Vec<f64>) {
    let (n, c, plane) = (dy.n, dy.c, dy.plane());
    let count = (n * plane) as f64;
    let mut dz = Act::zeros(n, c, dy.h, dy.w);
    let mut dgamma = vec![0.0; c];
    let mut dbeta = vec![0.0; c];
    for ch in 0..c {
        let ranges = || (0..n).map(move |i| (i * c + ch) * plane..(i * c + ch + 1) * plane);
        let (mut sg, mut sgx) = (0.0, 0.0);
        for r in ranges() {
            for (g, xh) in dy.data[r.clone()].iter().zip(&tape.xhat.data[r]) {
                sg += g;
                sgx += g * xh;
            }
        }
        dbeta[ch] = sg;
        dgamma[ch] = sgx;
        let (mg, mgx) = if coupled {
            (gamma[ch] * sg / count, gamma[ch] * sgx / count)
        } else {
            (0.0, 0.0)
        };
        for r in ranges() {
            for ((d, g), xh) in dz.data[r.clone()]
                .iter_mut()
                .zip(&dy.data[r.clone()])
                .zip(&tape.xhat.data[r])
            {
                *d = (gamma[ch] * g - mg - xh * mgx) / tape.s[ch];
            }
        }
    }
    (dz, dgamma, dbeta)
}

fn relu(mut a: Act) -> Act {
    for v in &mut a.data {
        *v = v.max(0.0);
    }
    a
}

/// Multiplies the cotangent by the ReLU derivative, read off the ReLU's output (1 where > 0).
fn relu_backward(d: &mut Act, out: &Act) {
    for (g, o) in d.data.iter_mut().zip(&out.data) {
        if *o <= 0.0 {
            *g = 0.0;
        }
    }
}

/// Option-A shortcut: identity, or `x[:, :, ::2, ::2]` with `(c_out − c_in)/2` zero channels in
/// front and the rest behind when the shape changes.
fn shortcut_forward(x: &Act, c_out: usize, stride: usize) -> Act {
    if stride == 1 && c_out == x.c {
        return x.clone();
    }
    let (ho, wo) = (out_size(x.h, stride), out_size(x.w, stride));
    let front = (c_out - x.c) / 2;
    let mut out = Act::zeros(x.n, c_out, ho, wo);
    for n in 0..x.n {
        for c in 0..x.c {
            for y in 0..ho {
                for xx in 0..wo {
                    out.data[((n * c_out + front + c) * ho + y) * wo + xx] =
                        x.data[((n * x.c + c) * x.h + y * stride) * x.w + xx * stride];
                }
            }
        }
    }
    out
}

/// Adjoint of [`shortcut_forward`]; `input` gives the shape of the shortcut's input.
fn shortcut_backward(d: &Act, c_in: usize, stride: usize, input: &Act) -> Act {
    if stride == 1 && c_in == d.c {
        return d.clone();
    }
    let front = (d.c - c_in) / 2;
    let mut dx = Act::zeros(input.n, c_in, input.h, input.w);
    for n in 0..d.n {
        for c in 0..c_in {
            for y in 0..d.h {
                for xx in 0..d.w {
                    dx.data[((n * c_in + c) * input.h + y * stride) * input.w + xx * stride] =
                        d.data[((n * d.c + front + c) * d.h + y) * d.w + xx];
                }
            }
        }
    }
    dx
}
