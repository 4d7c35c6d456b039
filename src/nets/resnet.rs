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
//! `backward` turns an output cotangent `∂L/∂f` (n×k) into `∂L/∂θ`. The convolutions are GEMMs
//! on each sample's patch matrix (im2col). With frozen statistics a sample's k Jacobian rows are
//! one backward pass of k cotangent rows; with batch statistics each output row is one pass
//! through the coupled batch. Jacobian rows are sample-major, output-minor (row `i·k + o`), its
//! columns follow [`ResNet::tensors`].
//!
//! Batch norm has two modes ([`BnMode`]): `Batch` uses the statistics of the batch being
//! evaluated (PyTorch's training mode: biased variance, ε = 1e-5) and differentiates through
//! them, so every sample's output depends on every other sample; `Frozen` uses given
//! statistics as constants (PyTorch's evaluation mode with running statistics equal to the
//! given ones), so the network is a per-sample function.

use super::batchnorm::BN_EPS;
use crate::linalg::{self, Slab};
use crate::seed::{normal, PointRng};
use nalgebra::DMatrix;
use rayon::prelude::*;

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

/// A block's caches; its input is the previous block's `out` (the stem's for the first block,
/// [`Tape::block_input`]).
#[derive(Debug, Clone)]
struct BlockTape {
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

impl Tape {
    /// Bytes of the activations the tape holds (what keeping it costs).
    fn bytes(&self) -> usize {
        let bn = |b: &BnTape| b.xhat.data.len() + b.s.len();
        let blocks: usize = self
            .blocks
            .iter()
            .map(|b| bn(&b.bn1) + b.mid.data.len() + bn(&b.bn2) + b.out.data.len())
            .sum();
        let rest = self.input.data.len() + bn(&self.stem_bn) + self.stem_out.data.len();
        (blocks + rest + self.pooled.len() + self.output.len()) * std::mem::size_of::<f64>()
    }

    /// The input of block `b`: the previous block's output, or the stem's for the first.
    fn block_input(&self, b: usize) -> &Act {
        if b == 0 {
            &self.stem_out
        } else {
            &self.blocks[b - 1].out
        }
    }
}

/// A run of consecutive basic blocks, with the head above it and/or the stem below it. Its
/// parameters are one contiguous range of θ ([`ResNet::segment_params`]): one slice of the
/// Jacobian's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub blocks: std::ops::Range<usize>,
    pub head: bool,
    pub stem: bool,
}

/// Where a segment's backward pass starts: the output cotangent (the segment holds the head)
/// or the cotangent the segment above left at the output of this segment's top block.
enum Cotangent<'a> {
    Output(&'a DMatrix<f64>),
    Inside(Act),
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
        self.forward_lean(x, None).0
    }

    /// Outputs with the given batch-norm statistics held fixed (per-sample function).
    pub fn forward_frozen(&self, x: &DMatrix<f64>, stats: &[BnStats]) -> DMatrix<f64> {
        self.forward_lean(x, Some(stats)).0
    }

    /// The forward pass without a tape, for outputs only: one activation at a time (and a
    /// block's input, for its shortcut), batch norm and ReLU applied in place, so a block
    /// allocates only its two convolutions' outputs. The same operations in the same order
    /// as [`ResNet::forward_tape`], so the same bits. `frozen`: statistics held fixed, else
    /// the batch's own, which are returned with the outputs (none when frozen).
    fn forward_lean(
        &self,
        x: &DMatrix<f64>,
        frozen: Option<&[BnStats]>,
    ) -> (DMatrix<f64>, Vec<BnStats>) {
        let (mut layer, mut own) = (0, Vec::new());
        let mut bn_relu = |z: &mut Act, (gamma, beta): (usize, usize), relu_after: bool| {
            let st = match frozen {
                Some(f) => &f[layer],
                None => {
                    own.push(bn_statistics(z));
                    &own[layer]
                }
            };
            layer += 1;
            bn_apply(z, self.t(gamma), self.t(beta), st, relu_after);
        };
        let mut h = conv_forward(&self.input(x), self.t(self.stem), self.spec.base_width, 1);
        bn_relu(&mut h, self.stem_bn, true);
        // the storage of activations no longer needed, for the next convolutions' outputs
        // (later stages' activations are no larger, so it is never grown after the first)
        let mut spare: Vec<Vec<f64>> = Vec::new();
        for b in &self.blocks {
            let fresh = spare.pop().unwrap_or_default();
            let mut z = conv_forward_into(&h, self.t(b.conv1), b.c_out, b.stride, fresh);
            bn_relu(&mut z, b.bn1, true);
            let fresh = spare.pop().unwrap_or_default();
            let mut y = conv_forward_into(&z, self.t(b.conv2), b.c_out, 1, fresh);
            spare.push(z.data);
            bn_relu(&mut y, b.bn2, false);
            add_shortcut(&mut y, &h, b.stride);
            spare.push(std::mem::replace(&mut h, relu(y)).data);
        }
        (self.head_output(&h).1, own)
    }

    /// Global average pooling of the last block's output `h`, then the linear head: the
    /// pooled features (n×c, row-major) and the n×k outputs.
    fn head_output(&self, h: &Act) -> (Vec<f64>, DMatrix<f64>) {
        let (n, c, plane) = (h.n, h.c, h.plane());
        let mut pooled = vec![0.0; n * c];
        for (p, chunk) in pooled.iter_mut().zip(h.data.chunks(plane)) {
            *p = chunk.iter().sum::<f64>() / plane as f64;
        }
        let head = self.t(self.head);
        let output = DMatrix::from_fn(n, self.spec.classes, |i, o| {
            (0..c).map(|j| head[o * c + j] * pooled[i * c + j]).sum()
        });
        (pooled, output)
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
        let mut blocks: Vec<BlockTape> = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            let h = blocks.last().map_or(&stem_out, |bt| &bt.out);
            let z1 = conv_forward(h, self.t(b.conv1), b.c_out, b.stride);
            let (y1, bn1, st1) = bn_forward(z1, self.t(b.bn1.0), self.t(b.bn1.1), next_stats());
            let mid = relu(y1);
            let z2 = conv_forward(&mid, self.t(b.conv2), b.c_out, 1);
            let (mut y2, bn2, st2) = bn_forward(z2, self.t(b.bn2.0), self.t(b.bn2.1), next_stats());
            used.push(st1);
            used.push(st2);
            add_shortcut(&mut y2, h, b.stride);
            let out = relu(y2);
            blocks.push(BlockTape { bn1, mid, bn2, out });
        }
        let (pooled, output) = self.head_output(blocks.last().map_or(&stem_out, |bt| &bt.out));
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
        self.backward_rows(tape, dy, false)
    }

    /// Reverse mode with V = `dy.nrows()` cotangent rows on a tape of n samples, V a multiple
    /// of n: row v is a cotangent of sample `v / (V/n)`'s outputs (so one sample's k Jacobian
    /// rows run as one backward pass of k rows, every layer a GEMM). Returns `∂L/∂θ` summed
    /// over the rows (p entries), or with `per_row` one gradient per row (V×p, row-major). In
    /// `Batch` mode V must equal n (the rows are the coupled batch).
    fn backward_rows(&self, tape: &Tape, dy: &DMatrix<f64>, per_row: bool) -> Vec<f64> {
        let rows = if per_row { dy.nrows() } else { 1 };
        let mut grad = vec![0.0; rows * self.num_params()];
        self.backward_segment(
            tape,
            Cotangent::Output(dy),
            &self.whole(),
            per_row,
            &mut grad,
        );
        grad
    }

    /// The whole network as one segment.
    pub fn whole(&self) -> Segment {
        Segment {
            blocks: 0..self.blocks.len(),
            head: true,
            stem: true,
        }
    }

    /// The parameters of a segment: from its bottom block's first tensor (or 0 with the stem)
    /// to its top block's last (or p with the head).
    pub fn segment_params(&self, seg: &Segment) -> std::ops::Range<usize> {
        let start = if seg.stem {
            0
        } else {
            self.tensors[self.blocks[seg.blocks.start].conv1].offset
        };
        let end = if seg.head {
            self.num_params()
        } else {
            self.tensors[self.blocks[seg.blocks.end - 1].bn2.1]
                .range()
                .end
        };
        start..end
    }

    /// The network split from the output down into segments of consecutive blocks holding at
    /// most `max_params` kept parameters (by `mask`) each, where one block allows it: a
    /// segment holds at least one block; the head joins the top segment, the stem the bottom
    /// one.
    pub fn segments(&self, mask: Option<&[bool]>, max_params: usize) -> Vec<Segment> {
        let kept = |seg: &Segment| {
            let r = self.segment_params(seg);
            mask.map_or(r.len(), |m| m[r].iter().filter(|&&b| b).count())
        };
        let top = self.blocks.len();
        let segment = |lo: usize, hi: usize| Segment {
            blocks: lo..hi,
            head: hi == top,
            stem: lo == 0,
        };
        let mut out = Vec::new();
        let mut hi = top;
        while hi > 0 {
            let mut lo = hi - 1;
            while lo > 0 && kept(&segment(lo - 1, hi)) <= max_params {
                lo -= 1;
            }
            out.push(segment(lo, hi));
            hi = lo;
        }
        out
    }

    /// Reverse mode through one [`Segment`] only: from the output cotangent `dy` when the
    /// segment holds the head, else from the cotangent at the output of its top block (what
    /// the segment above returned). Writes the gradient of the segment's parameters
    /// ([`ResNet::segment_params`], summed or per row as in [`ResNet::backward_rows`]) into
    /// `out` (every entry is overwritten, so `out` needs no clearing) and returns, unless the
    /// segment holds the stem, the cotangent at the input of its bottom block.
    fn backward_segment(
        &self,
        tape: &Tape,
        from: Cotangent,
        seg: &Segment,
        per_row: bool,
        out: &mut [f64],
    ) -> Option<Act> {
        let coupled = tape.mode == BnMode::Batch;
        let range = self.segment_params(seg);
        let last = tape.blocks.last().map_or(&tape.stem_out, |b| &b.out);
        let n = last.n;
        let (mut grad, mut dh) = match from {
            Cotangent::Output(dy) => {
                assert!(seg.head, "an output cotangent starts at the head");
                let rows = dy.nrows();
                assert!(
                    !coupled || rows == n,
                    "batch statistics couple exactly the n samples"
                );
                let mut grad = Grads::new(range.clone(), rows, per_row, out);
                let dh = self.head_backward(tape, dy, &mut grad);
                (grad, dh)
            }
            Cotangent::Inside(dh) => {
                assert!(!seg.head, "an inside cotangent starts below the head");
                (Grads::new(range.clone(), dh.n, per_row, out), dh)
            }
        };
        for (at, b) in self
            .blocks
            .iter()
            .enumerate()
            .take(seg.blocks.end)
            .skip(seg.blocks.start)
            .rev()
        {
            let (bt, input) = (&tape.blocks[at], tape.block_input(at));
            relu_backward(&mut dh, &bt.out);
            // residual branch
            let dz2 = self.bn_backward_into(&mut grad, &bt.bn2, b.bn2, &dh, coupled);
            let (mut dmid, dw2) = conv_backward(&bt.mid, self.t(b.conv2), &dz2, 1, true, per_row);
            grad.put(&self.tensors[b.conv2], &dw2);
            relu_backward(&mut dmid, &bt.mid);
            let dz1 = self.bn_backward_into(&mut grad, &bt.bn1, b.bn1, &dmid, coupled);
            let (mut dx, dw1) =
                conv_backward(input, self.t(b.conv1), &dz1, b.stride, true, per_row);
            grad.put(&self.tensors[b.conv1], &dw1);
            // shortcut
            add_shortcut_backward(&mut dx, &dh, b.stride);
            dh = dx;
        }
        if !seg.stem {
            grad.finish(&self.tensors);
            return Some(dh);
        }
        relu_backward(&mut dh, &tape.stem_out);
        let dz = self.bn_backward_into(&mut grad, &tape.stem_bn, self.stem_bn, &dh, coupled);
        let (_, dw) = conv_backward(&tape.input, self.t(self.stem), &dz, 1, false, per_row);
        grad.put(&self.tensors[self.stem], &dw);
        grad.finish(&self.tensors);
        None
    }

    /// The head and the global average pooling in reverse: `f_vo = Σ_j W_oj g_ij` with
    /// i = v / (V/n); returns the cotangent at the output of the last block.
    fn head_backward(&self, tape: &Tape, dy: &DMatrix<f64>, grad: &mut Grads) -> Act {
        let k = self.spec.classes;
        let last = tape.blocks.last().map_or(&tape.stem_out, |b| &b.out);
        let (n, c, plane) = (last.n, last.c, last.plane());
        let rows = dy.nrows();
        assert!(
            dy.ncols() == k && rows.is_multiple_of(n),
            "cotangent shape {}×{} for {n} samples and {k} outputs",
            rows,
            dy.ncols()
        );
        let group = rows / n;
        let head = self.t(self.head);
        let head_t = &self.tensors[self.head];
        let mut dpool = vec![0.0; rows * c];
        grad.zero(head_t);
        for v in 0..rows {
            let i = v / group;
            let gh = grad.row(v, head_t);
            for o in 0..k {
                let g = dy[(v, o)];
                if g == 0.0 {
                    continue;
                }
                for j in 0..c {
                    gh[o * c + j] += g * tape.pooled[i * c + j];
                    dpool[v * c + j] += g * head[o * c + j];
                }
            }
        }
        let mut dh = Act::zeros(rows, c, last.h, last.w);
        for (chunk, &g) in dh.data.chunks_mut(plane).zip(&dpool) {
            chunk.fill(g / plane as f64);
        }
        dh
    }

    /// Batch norm's adjoint, its γ and β gradients added to `grad`; returns `∂L/∂z`.
    fn bn_backward_into(
        &self,
        grad: &mut Grads,
        tape: &BnTape,
        (gamma, beta): (usize, usize),
        dy: &Act,
        coupled: bool,
    ) -> Act {
        let (dz, dg, db) = bn_backward(tape, self.t(gamma), dy, coupled);
        grad.put(&self.tensors[gamma], &dg);
        grad.put(&self.tensors[beta], &db);
        dz
    }

    /// Batch statistics of every batch-norm layer on `x`, in network order (from the forward
    /// pass without a tape).
    pub fn batch_stats(&self, x: &DMatrix<f64>) -> Vec<BnStats> {
        self.forward_lean(x, None).1
    }

    /// The nk×p Jacobian of the batch function (batch statistics, samples coupled): one
    /// backward pass through the whole batch per output row.
    pub fn jacobian(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let tape = self.forward_tape(x, BnMode::Batch, None);
        let (n, k) = (x.ncols(), self.spec.classes);
        let p = self.num_params();
        let rows: Vec<Vec<f64>> = (0..n * k)
            .into_par_iter()
            .map(|r| {
                let mut dy = DMatrix::zeros(n, k);
                dy[(r / k, r % k)] = 1.0;
                self.backward(&tape, &dy)
            })
            .collect();
        DMatrix::from_fn(n * k, p, |r, j| rows[r][j])
    }

    /// The nk×p Jacobian with batch-norm statistics `stats` held fixed (the transpose of
    /// [`ResNet::jacobian_frozen_t`]).
    pub fn jacobian_frozen(&self, x: &DMatrix<f64>, stats: &[BnStats]) -> DMatrix<f64> {
        self.jacobian_frozen_t(x, stats, None).transpose()
    }

    /// `Jᵀ` (p_kept × nk) of the network with batch-norm statistics `stats` held fixed, in
    /// the parameters `mask` keeps (all when None): column `i·k + o` is `∂f_o(x_i)/∂θ`. Each
    /// sample is one forward pass and one backward pass of its k cotangent rows together;
    /// samples run in parallel, each writing its own k columns, so the result does not depend
    /// on the number of threads.
    pub fn jacobian_frozen_t(
        &self,
        x: &DMatrix<f64>,
        stats: &[BnStats],
        mask: Option<&[bool]>,
    ) -> DMatrix<f64> {
        let mut whole = None;
        self.jacobian_frozen_t_segments(x, stats, mask, &[self.whole()], 0, |_, jt| {
            whole = Some(std::mem::replace(jt, DMatrix::zeros(0, 0)))
        });
        whole.expect("one segment")
    }

    /// `Jᵀ` one slice at a time: for each segment (top first, consecutive, together the whole
    /// network, as [`ResNet::segments`] makes them) calls `each` with the kept rows of the
    /// segment's parameters, p_s × nk with columns as in [`ResNet::jacobian_frozen_t`]. Every
    /// entry is computed once: each sample's k-row cotangent at the bottom of a segment is
    /// kept for the segment below (n·k activations), so only one slice of J is in memory at a
    /// time, in one buffer reused from slice to slice (the top slices are the largest, so it is
    /// allocated and faulted in once; `each` may take it with `std::mem::replace`). Each
    /// sample's forward tape is kept for the segments below when the n tapes fit in
    /// `tape_bytes`; otherwise the forward pass is repeated per segment (a twentieth of the
    /// k-row backward pass at k = 10, in flops). The tape is the same either way, so the slices
    /// are too, to the bit.
    pub fn jacobian_frozen_t_segments(
        &self,
        x: &DMatrix<f64>,
        stats: &[BnStats],
        mask: Option<&[bool]>,
        segments: &[Segment],
        tape_bytes: usize,
        mut each: impl FnMut(&Segment, &mut DMatrix<f64>),
    ) {
        let (n, k) = (x.ncols(), self.spec.classes);
        let eye = DMatrix::identity(k, k);
        let forward = |i: usize| {
            self.forward_tape(&x.columns(i, 1).into_owned(), BnMode::Frozen, Some(stats))
        };
        let tapes: Option<Vec<Tape>> = (segments.len() > 1 && n > 0)
            .then(|| forward(0))
            .filter(|t| t.bytes().saturating_mul(n) <= tape_bytes)
            .map(|first| {
                let rest: Vec<Tape> = (1..n).into_par_iter().map(forward).collect();
                std::iter::once(first).chain(rest).collect()
            });
        let mut carry: Vec<Option<Act>> = vec![None; n];
        let mut buffer = Vec::new();
        for seg in segments {
            let range = self.segment_params(seg);
            let kept: Vec<usize> = range
                .clone()
                .filter(|&j| mask.is_none_or(|m| m[j]))
                .map(|j| j - range.start)
                .collect();
            let (p, pk) = (range.len(), kept.len());
            let direct = pk == p;
            // every entry is written below, so the reused buffer needs no clearing
            buffer.resize(pk * n * k, 0.0);
            let mut jt = DMatrix::from_vec(pk, n * k, std::mem::take(&mut buffer));
            let chunks: Vec<&mut [f64]> = if pk == 0 {
                (0..n).map(|_| Default::default()).collect()
            } else {
                jt.as_mut_slice().chunks_mut(pk * k).collect()
            };
            chunks
                .into_par_iter()
                .zip(carry.par_iter_mut())
                .enumerate()
                .for_each(|(i, (cols, slot))| {
                    let own;
                    let tape = match &tapes {
                        Some(t) => &t[i],
                        None => {
                            own = forward(i);
                            &own
                        }
                    };
                    let from = slot
                        .take()
                        .map_or(Cotangent::Output(&eye), Cotangent::Inside);
                    if direct {
                        // nothing masked: the k columns are the k gradient rows
                        *slot = self.backward_segment(tape, from, seg, true, cols);
                        return;
                    }
                    GRAD_ROWS.with_borrow_mut(|g| {
                        g.resize(k * p, 0.0);
                        *slot = self.backward_segment(tape, from, seg, true, g);
                        for (o, col) in cols.chunks_mut(pk.max(1)).enumerate() {
                            let row = &g[o * p..(o + 1) * p];
                            for (dst, &j) in col.iter_mut().zip(&kept) {
                                *dst = row[j];
                            }
                        }
                    });
                });
            // a caller that takes the slice (leaving an empty matrix) gets a fresh buffer next
            each(seg, &mut jt);
            buffer = jt.data.into();
        }
    }
}

/// Gradients of a backward pass over the parameter range `lo..lo + p` (the whole θ, or one
/// segment's), written into the caller's storage: one p-vector, or one per cotangent row
/// (row-major). Each tensor is written once ([`Grads::put`], [`Grads::zero`]), so the storage
/// needs no clearing; [`Grads::finish`] checks that every parameter of the range was written.
struct Grads<'a> {
    lo: usize,
    p: usize,
    rows: usize,
    per_row: bool,
    data: &'a mut [f64],
    /// Offsets of the tensors written so far.
    written: Vec<usize>,
}

impl<'a> Grads<'a> {
    fn new(
        range: std::ops::Range<usize>,
        rows: usize,
        per_row: bool,
        data: &'a mut [f64],
    ) -> Grads<'a> {
        let p = range.len();
        assert_eq!(
            data.len(),
            if per_row { rows * p } else { p },
            "gradient storage"
        );
        Grads {
            lo: range.start,
            p,
            rows,
            per_row,
            data,
            written: Vec::new(),
        }
    }

    /// Writes tensor `t`'s gradient given per row (`rows × len`, copied row by row) or, when
    /// not kept per row, as one or more `len` vectors (summed in order).
    fn put(&mut self, t: &TensorInfo, g: &[f64]) {
        let len = t.len();
        assert!(
            g.len().is_multiple_of(len) && (!self.per_row || g.len() == self.rows * len),
            "one gradient per row"
        );
        if self.per_row {
            for (v, chunk) in g.chunks(len).enumerate() {
                self.row(v, t).copy_from_slice(chunk);
            }
        } else {
            let mut rows = g.chunks(len);
            let dst = self.row(0, t);
            dst.copy_from_slice(rows.next().expect("at least one row"));
            for chunk in rows {
                dst.iter_mut().zip(chunk).for_each(|(a, b)| *a += b);
            }
        }
        self.mark(t);
    }

    /// Clears tensor `t`'s gradient in every row, for a caller that accumulates into it.
    fn zero(&mut self, t: &TensorInfo) {
        for v in 0..if self.per_row { self.rows } else { 1 } {
            self.row(v, t).fill(0.0);
        }
        self.mark(t);
    }

    /// Records that tensor `t` was written; writing one twice is a bug.
    fn mark(&mut self, t: &TensorInfo) {
        assert!(
            !self.written.contains(&t.offset),
            "a tensor's gradient written twice"
        );
        self.written.push(t.offset);
    }

    /// Checks that every parameter of the range was written exactly once: distinct tensors
    /// (of the range, which they tile) whose lengths add up to the range's.
    fn finish(self, tensors: &[TensorInfo]) {
        let total: usize = tensors
            .iter()
            .filter(|t| self.written.contains(&t.offset))
            .map(|t| t.len())
            .sum();
        assert_eq!(total, self.p, "every parameter's gradient written once");
    }

    /// Tensor `t`'s slice of row `v`'s gradient (of the sum when not per row).
    fn row(&mut self, v: usize, t: &TensorInfo) -> &mut [f64] {
        let base = if self.per_row { v * self.p } else { 0 } + t.offset - self.lo;
        &mut self.data[base..base + t.len()]
    }
}

fn out_size(size: usize, stride: usize) -> usize {
    (size - 1) / stride + 1
}

/// Output columns `x` of a 3×3 window row with offset `b` (padding 1, stride `s`) that read
/// inside an input row of width `w`: `0 ≤ x·s + b − 1 < w`.
fn valid(wo: usize, w: usize, s: usize, b: usize) -> std::ops::Range<usize> {
    let lo = usize::from(b == 0);
    let hi = ((w + 1 - b).div_ceil(s)).min(wo);
    lo..hi.max(lo)
}

thread_local! {
    /// One sample's k gradient rows per thread, reused when a mask keeps only part of them.
    static GRAD_ROWS: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
    /// One patch matrix per thread, reused: a fresh allocation of this size per sample and
    /// layer costs more (page faults, zeroing) than the copy that fills it.
    static PATCHES: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The per-sample weight gradients of a summed [`conv_backward`], kept for the next call
    /// on this thread: zeroing a fresh buffer of this size per convolution and training step
    /// costs a pass over memory that the GEMMs then overwrite anyway. Taken out for the
    /// call's duration, so a nested call (work stolen inside it) simply allocates its own.
    static SAMPLE_DW: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Calls `f` with the patches of one sample for a 3×3 convolution with padding 1 (im2col), a
/// column-major `P × 9c` matrix (P = output positions, passed too): entry
/// `(y·wo + x, (ch·3 + a)·3 + b)` is `in[ch, y·s + a − 1, x·s + b − 1]`, zero outside the
/// image. Every entry is written on each call, so the reused buffer needs no clearing.
fn with_patches<R>(
    input: &Act,
    sample: usize,
    stride: usize,
    f: impl FnOnce(&[f64], usize) -> R,
) -> R {
    let (ho, wo) = (out_size(input.h, stride), out_size(input.w, stride));
    let positions = ho * wo;
    let plane = input.plane();
    PATCHES.with_borrow_mut(|cols| {
        cols.resize(positions * input.c * 9, 0.0);
        for ch in 0..input.c {
            let src =
                &input.data[(sample * input.c + ch) * plane..(sample * input.c + ch + 1) * plane];
            if stride == 1 {
                for ab in 0..9 {
                    let col = &mut cols[(ch * 9 + ab) * positions..][..positions];
                    shifted_plane(col, src, (input.h, input.w), (ab / 3, ab % 3));
                }
                continue;
            }
            for a in 0..3 {
                let ys = valid(ho, input.h, stride, a);
                for b in 0..3 {
                    let xs = valid(wo, input.w, stride, b);
                    let col = &mut cols[((ch * 3 + a) * 3 + b) * positions..][..positions];
                    for (y, dst) in col.chunks_mut(wo).enumerate() {
                        if !ys.contains(&y) {
                            dst.fill(0.0);
                            continue;
                        }
                        let iy = y * stride + a - 1;
                        let row = &src[iy * input.w..(iy + 1) * input.w];
                        dst[..xs.start].fill(0.0);
                        dst[xs.end..].fill(0.0);
                        if stride == 1 {
                            // a contiguous run: one copy
                            let from = xs.start + b - 1;
                            dst[xs.clone()].copy_from_slice(&row[from..from + xs.len()]);
                        } else {
                            for x in xs.clone() {
                                dst[x] = row[x * stride + b - 1];
                            }
                        }
                    }
                }
            }
        }
        f(cols, positions)
    })
}

/// One patch column at stride 1: `dst[y·w + x] = src[(y + a − 1)·w + x + b − 1]`, zero outside
/// the `h × w` image. In flat indices that is `dst[i] = src[i + (a − 1)·w + b − 1]`: one copy
/// of the overlapping range, then the row (a ≠ 1) and the column (b ≠ 1) that fall outside the
/// image, which the flat copy fills from the neighbouring row, are set to zero.
fn shifted_plane(dst: &mut [f64], src: &[f64], (h, w): (usize, usize), (a, b): (usize, usize)) {
    let len = h * w;
    let off = (a * w + b) as isize - (w + 1) as isize;
    let lo = (-off).clamp(0, len as isize) as usize;
    let hi = (len as isize - off).clamp(lo as isize, len as isize) as usize;
    dst[..lo].fill(0.0);
    dst[hi..].fill(0.0);
    if hi > lo {
        let from = (lo as isize + off) as usize;
        dst[lo..hi].copy_from_slice(&src[from..from + hi - lo]);
    }
    match a {
        0 => dst[..w].fill(0.0),
        2 => dst[len - w..].fill(0.0),
        _ => {}
    }
    match b {
        0 => dst.iter_mut().step_by(w).for_each(|v| *v = 0.0),
        2 => dst[w - 1..].iter_mut().step_by(w).for_each(|v| *v = 0.0),
        _ => {}
    }
}

/// Adjoint of [`with_patches`]: adds the patch cotangents (`P × 9c`) onto one sample's input
/// cotangent `dst` (`c × h × w`).
fn add_patches(dst: &mut [f64], (c, h, w): (usize, usize, usize), stride: usize, dcols: &[f64]) {
    let (ho, wo) = (out_size(h, stride), out_size(w, stride));
    let positions = ho * wo;
    let plane = h * w;
    for ch in 0..c {
        let dst = &mut dst[ch * plane..(ch + 1) * plane];
        for a in 0..3 {
            let ys = valid(ho, h, stride, a);
            for b in 0..3 {
                let xs = valid(wo, w, stride, b);
                let col = &dcols[((ch * 3 + a) * 3 + b) * positions..][..positions];
                for y in ys.clone() {
                    let iy = y * stride + a - 1;
                    let row = &mut dst[iy * w..(iy + 1) * w];
                    let src = &col[y * wo..(y + 1) * wo];
                    if stride == 1 {
                        let from = xs.start + b - 1;
                        for (r, v) in row[from..from + xs.len()].iter_mut().zip(&src[xs.clone()]) {
                            *r += v;
                        }
                    } else {
                        for x in xs.clone() {
                            row[x * stride + b - 1] += src[x];
                        }
                    }
                }
            }
        }
    }
}

/// 3×3 convolution, padding 1: `z[n,o,y,x] = Σ_{c,a,b} w[o,c,a,b] · in[n,c,y·s+a−1,x·s+b−1]`.
/// Per sample one GEMM: `Zᵀ (P × c_out) = patches (P × 9c) · W (9c × c_out)`, where the
/// weights' storage order `[o][c][a][b]` is exactly the column-major `9c × c_out` matrix and
/// `Zᵀ` column-major is the activation layout `[o][y][x]`.
fn conv_forward(input: &Act, w: &[f64], c_out: usize, stride: usize) -> Act {
    conv_forward_into(input, w, c_out, stride, Vec::new())
}

/// [`conv_forward`] into the storage of `buffer` (a spare activation's, whatever its
/// contents: every entry is written), so a pass over a large batch reuses pages already
/// faulted in instead of mapping fresh ones per layer.
fn conv_forward_into(
    input: &Act,
    w: &[f64],
    c_out: usize,
    stride: usize,
    mut buffer: Vec<f64>,
) -> Act {
    let (ho, wo) = (out_size(input.h, stride), out_size(input.w, stride));
    buffer.resize(input.n * c_out * ho * wo, 0.0);
    let mut out = Act {
        n: input.n,
        c: c_out,
        h: ho,
        w: wo,
        data: buffer,
    };
    let q = input.c * 9;
    let block = c_out * ho * wo;
    // samples in parallel, each writing its own block: the bits do not depend on the threads
    out.data
        .par_chunks_mut(block)
        .enumerate()
        .for_each(|(i, z)| {
            with_patches(input, i, stride, |cols, positions| {
                linalg::gemm_seq(
                    z,
                    positions,
                    c_out,
                    Slab::new(cols, positions, q),
                    Slab::new(w, q, c_out),
                    false,
                )
            });
        });
    out
}

/// Adjoint of [`conv_forward`] for V = `dz.n` cotangent rows on `input.n` samples (row v
/// belongs to sample `v / (V/n)`): `∂L/∂in` per row if `want_dx`, and `∂L/∂w` summed over
/// the rows, or per row (`V × len`) if `per_row`. Per sample, the weight gradient of all its
/// rows is one GEMM `patchesᵀ (9c × P) · [dZ_v] (P × rows·c_out)`, whose columns are each
/// row's gradient in storage order. The input cotangent is the transposed convolution
/// `∂in[c,y,x] = Σ_{o,a,b} w[o,c,a,b] · dz[o, y−a+1, x−b+1]`: at stride 1 that is the
/// convolution of dz with the flipped, transposed filters `w'[c,o,a,b] = w[o,c,2−a,2−b]`, one
/// GEMM `patches(dz_v) (P × 9c_out) · W' (9c_out × c)` written straight into the row's
/// cotangent; at stride 2, `∂patches = dZ_v Wᵀ` added back by [`add_patches`]. Samples run in
/// parallel, each writing its own rows; summed weight gradients are added in sample order, so
/// the bits do not depend on the threads.
fn conv_backward(
    input: &Act,
    w: &[f64],
    dz: &Act,
    stride: usize,
    want_dx: bool,
    per_row: bool,
) -> (Act, Vec<f64>) {
    let (c_in, c_out) = (input.c, dz.c);
    let rows = dz.n;
    let group = rows / input.n;
    let q = c_in * 9;
    let len = q * c_out;
    let positions = dz.plane();
    let block = c_out * positions;
    let sample_dx = c_in * input.plane();
    let flipped = (want_dx && stride == 1).then(|| flipped_filters(w, c_in, c_out));
    let mut dx = Act::zeros(if want_dx { rows } else { 0 }, c_in, input.h, input.w);
    // per row, or per sample (summed in sample order below; every entry is written by its
    // sample's first GEMM, so the reused buffer needs no clearing)
    let mut dw = if per_row {
        vec![0.0; rows * len]
    } else {
        let mut reused = SAMPLE_DW.take();
        reused.resize(input.n * len, 0.0);
        reused
    };
    let dw_chunks = dw.par_chunks_mut(if per_row { group * len } else { len });
    let dx_chunks: Vec<&mut [f64]> = if want_dx {
        dx.data.chunks_mut(group * sample_dx).collect()
    } else {
        (0..input.n).map(|_| Default::default()).collect()
    };
    dw_chunks
        .zip(dx_chunks)
        .enumerate()
        .for_each(|(i, (dw, dx))| {
            let dzi = &dz.data[i * group * block..(i + 1) * group * block];
            with_patches(input, i, stride, |cols, _| {
                let cols_t = Slab::new(cols, positions, q).t();
                if per_row {
                    let dzm = Slab::new(dzi, positions, group * c_out);
                    linalg::gemm_seq(dw, q, group * c_out, cols_t, dzm, false);
                } else {
                    if dzi.is_empty() {
                        dw.fill(0.0); // no rows: a zero gradient
                    }
                    for (r, dzv) in dzi.chunks(block).enumerate() {
                        let dzm = Slab::new(dzv, positions, c_out);
                        linalg::gemm_seq(dw, q, c_out, cols_t, dzm, r > 0);
                    }
                }
            });
            if !want_dx {
                return;
            }
            match &flipped {
                Some(wf) => {
                    let wf = Slab::new(wf, 9 * c_out, c_in);
                    for (r, dxv) in dx.chunks_mut(sample_dx).enumerate() {
                        with_patches(dz, i * group + r, 1, |cols, _| {
                            let pm = Slab::new(cols, positions, 9 * c_out);
                            linalg::gemm_seq(dxv, positions, c_in, pm, wf, false);
                        });
                    }
                }
                None => {
                    let mut dcols = vec![0.0; positions * q];
                    let wt = Slab::new(w, q, c_out).t();
                    for (dzv, dxv) in dzi.chunks(block).zip(dx.chunks_mut(sample_dx)) {
                        let dzm = Slab::new(dzv, positions, c_out);
                        linalg::gemm_seq(&mut dcols, positions, q, dzm, wt, false);
                        add_patches(dxv, (c_in, input.h, input.w), stride, &dcols);
                    }
                }
            }
        });
    if per_row {
        return (dx, dw);
    }
    // parameter ranges in parallel, each entry summed over the samples in order
    let mut sum = vec![0.0; len];
    sum.par_chunks_mut(SUM_CHUNK)
        .enumerate()
        .for_each(|(j, s)| {
            for part in dw.chunks(len) {
                let part = &part[j * SUM_CHUNK..][..s.len()];
                s.iter_mut().zip(part).for_each(|(a, b)| *a += b);
            }
        });
    SAMPLE_DW.set(dw);
    (dx, sum)
}

/// Entries per parallel task when the per-sample weight gradients are summed.
const SUM_CHUNK: usize = 1 << 11;

/// The filters of the transposed convolution at stride 1, as the column-major `9c_out × c_in`
/// matrix [`conv_forward`] takes: entry `((o·3 + a)·3 + b, c)` is `w[o, c, 2−a, 2−b]`.
fn flipped_filters(w: &[f64], c_in: usize, c_out: usize) -> Vec<f64> {
    let mut out = vec![0.0; w.len()];
    for c in 0..c_in {
        for o in 0..c_out {
            for ab in 0..9 {
                out[(c * c_out + o) * 9 + ab] = w[(o * c_in + c) * 9 + (8 - ab)];
            }
        }
    }
    out
}

/// Batch norm per channel: `y = γ (z − μ)/s + β`, `s = √(var + ε)` with the biased variance
/// over samples and positions (or the given statistics). Returns output, tape and statistics.
fn bn_forward(
    z: Act,
    gamma: &[f64],
    beta: &[f64],
    given: Option<&BnStats>,
) -> (Act, BnTape, BnStats) {
    let (c, plane) = (z.c, z.plane());
    let stats = given.cloned().unwrap_or_else(|| bn_statistics(&z));
    let mut xhat = z;
    let mut y = Act::zeros(xhat.n, c, xhat.h, xhat.w);
    let sample = c * plane;
    let normalise = |(xs, ys): (&mut [f64], &mut [f64])| {
        for ch in 0..c {
            let r = ch * plane..(ch + 1) * plane;
            for (xv, yv) in xs[r.clone()].iter_mut().zip(&mut ys[r]) {
                *xv = (*xv - stats.mean[ch]) / stats.s[ch];
                *yv = gamma[ch] * *xv + beta[ch];
            }
        }
    };
    if xhat.data.len() >= PAR_ELEMENTS {
        xhat.data
            .par_chunks_mut(sample)
            .zip(y.data.par_chunks_mut(sample))
            .for_each(normalise);
    } else {
        xhat.data
            .chunks_mut(sample)
            .zip(y.data.chunks_mut(sample))
            .for_each(normalise);
    }
    let tape = BnTape {
        xhat,
        s: stats.s.clone(),
    };
    (y, tape, stats)
}

/// Per-channel batch statistics of `z`: the mean and `s = √(var + ε)` over samples and
/// positions, channels in parallel, each channel's sums in a fixed order ([`lane_sum`] per
/// sample's plane, the planes added in sample order).
fn bn_statistics(z: &Act) -> BnStats {
    let (n, c, plane) = (z.n, z.c, z.plane());
    let count = (n * plane) as f64;
    let (mean, s) = (0..c)
        .into_par_iter()
        .map(|ch| {
            let planes = || (0..n).map(|i| &z.data[(i * c + ch) * plane..][..plane]);
            let mean = planes().map(|p| lane_sum(p, |v| v)).sum::<f64>() / count;
            let var = planes()
                .map(|p| lane_sum(p, |v| (v - mean) * (v - mean)))
                .sum::<f64>()
                / count;
            (mean, (var + BN_EPS).sqrt())
        })
        .unzip();
    BnStats { mean, s }
}

/// [`bn_forward`]'s output in place and without a tape, then the ReLU if `relu_after`: the
/// same operations per entry (`ẑ = (z − μ)/s`, `γ ẑ + β`, `max(·, 0)`), so the same bits.
fn bn_apply(z: &mut Act, gamma: &[f64], beta: &[f64], stats: &BnStats, relu_after: bool) {
    let (c, plane) = (z.c, z.plane());
    let normalise = |zs: &mut [f64]| {
        for ch in 0..c {
            for v in &mut zs[ch * plane..(ch + 1) * plane] {
                let y = gamma[ch] * ((*v - stats.mean[ch]) / stats.s[ch]) + beta[ch];
                *v = if relu_after { y.max(0.0) } else { y };
            }
        }
    };
    if z.data.len() >= PAR_ELEMENTS {
        z.data.par_chunks_mut(c * plane).for_each(normalise);
    } else {
        z.data.chunks_mut(c * plane).for_each(normalise);
    }
}

/// `Σ f(x)` over `xs` in a fixed order that vectorises: eight running sums over the entries
/// `≡ j (mod 8)`, added pairwise at the end, then the tail in order.
fn lane_sum(xs: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0; 8];
    let (chunks, tail) = xs.as_chunks::<8>();
    for chunk in chunks {
        for l in 0..8 {
            acc[l] += f(chunk[l]);
        }
    }
    let quads = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    let mut total = (quads[0] + quads[2]) + (quads[1] + quads[3]);
    for &v in tail {
        total += f(v);
    }
    total
}

/// Adjoint of [`bn_forward`] for V = `dy.n` cotangent rows on the tape's n samples (row v
/// belongs to sample `v / (V/n)`): per row `∂L/∂β = Σ dy`, `∂L/∂γ = Σ dy·ẑ` (V×c each), and
/// with `ĝ = γ dy`, `∂L/∂z = (ĝ − mean ĝ − ẑ · mean(ĝ ẑ)) / s` through batch statistics
/// (`coupled`, V = n, means over the batch), or `ĝ / s` with frozen statistics.
fn bn_backward(tape: &BnTape, gamma: &[f64], dy: &Act, coupled: bool) -> (Act, Vec<f64>, Vec<f64>) {
    let (rows, c, plane) = (dy.n, dy.c, dy.plane());
    let group = rows / tape.xhat.n;
    let count = (rows * plane) as f64;
    let at = |v: usize, ch: usize| (v * c + ch) * plane..(v * c + ch + 1) * plane;
    let mut dz = Act::zeros(rows, c, dy.h, dy.w);
    let mut dgamma = vec![0.0; rows * c];
    let mut dbeta = vec![0.0; rows * c];
    let big = dy.data.len() >= PAR_ELEMENTS;
    // per row and channel: Σ dy and Σ dy·ẑ (rows independent)
    let sums = |(v, (db, dg)): (usize, (&mut [f64], &mut [f64]))| {
        for ch in 0..c {
            let (mut sg, mut sgx) = (0.0, 0.0);
            for (g, xh) in dy.data[at(v, ch)]
                .iter()
                .zip(&tape.xhat.data[at(v / group, ch)])
            {
                sg += g;
                sgx += g * xh;
            }
            db[ch] = sg;
            dg[ch] = sgx;
        }
    };
    if big {
        dbeta
            .par_chunks_mut(c)
            .zip(dgamma.par_chunks_mut(c))
            .enumerate()
            .for_each(sums);
    } else {
        dbeta
            .chunks_mut(c)
            .zip(dgamma.chunks_mut(c))
            .enumerate()
            .for_each(sums);
    }
    // the batch-statistics terms, summed over rows in order
    let means: Vec<(f64, f64)> = (0..c)
        .map(|ch| {
            if coupled {
                let sg: f64 = (0..rows).map(|v| dbeta[v * c + ch]).sum();
                let sgx: f64 = (0..rows).map(|v| dgamma[v * c + ch]).sum();
                (gamma[ch] * sg / count, gamma[ch] * sgx / count)
            } else {
                (0.0, 0.0)
            }
        })
        .collect();
    let row_dz = |(v, d): (usize, &mut [f64])| {
        for (ch, &(mg, mgx)) in means.iter().enumerate() {
            for ((d, g), xh) in d[ch * plane..(ch + 1) * plane]
                .iter_mut()
                .zip(&dy.data[at(v, ch)])
                .zip(&tape.xhat.data[at(v / group, ch)])
            {
                *d = (gamma[ch] * g - mg - xh * mgx) / tape.s[ch];
            }
        }
    };
    if big {
        dz.data
            .par_chunks_mut(c * plane)
            .enumerate()
            .for_each(row_dz);
    } else {
        dz.data.chunks_mut(c * plane).enumerate().for_each(row_dz);
    }
    (dz, dgamma, dbeta)
}

/// Activations of at least this many entries are processed in parallel (chunks of whole
/// samples or rows, each computed exactly as in one pass, so the bits do not change).
const PAR_ELEMENTS: usize = 1 << 16;

fn relu(mut a: Act) -> Act {
    let clamp = |chunk: &mut [f64]| {
        for v in chunk {
            *v = v.max(0.0);
        }
    };
    if a.data.len() >= PAR_ELEMENTS {
        a.data.par_chunks_mut(1 << 12).for_each(clamp);
    } else {
        clamp(&mut a.data);
    }
    a
}

/// Multiplies the cotangent by the ReLU derivative, read off the ReLU's output (1 where > 0);
/// the cotangent may hold several rows per sample (row v belongs to sample `v / (V/n)`).
fn relu_backward(d: &mut Act, out: &Act) {
    let block = out.c * out.plane();
    let group = d.n / out.n;
    let apply = |(v, rows): (usize, &mut [f64])| {
        let mask = &out.data[(v / group) * block..(v / group + 1) * block];
        for (g, o) in rows.iter_mut().zip(mask) {
            *g = if *o > 0.0 { *g } else { 0.0 };
        }
    };
    if d.data.len() >= PAR_ELEMENTS {
        d.data.par_chunks_mut(block).enumerate().for_each(apply);
    } else {
        d.data.chunks_mut(block).enumerate().for_each(apply);
    }
}

/// Adds the option-A shortcut of `x` to `y`: `x` itself, or `x[:, :, ::2, ::2]` with
/// `(c_out − c_in)/2` zero channels in front and the rest behind when the shape changes.
/// Samples in parallel when large, each entry computed as in one pass.
fn add_shortcut(y: &mut Act, x: &Act, stride: usize) {
    let (c_out, ho, wo) = (y.c, y.h, y.w);
    let front = (c_out - x.c) / 2;
    let x_sample = x.c * x.plane();
    let identity = stride == 1 && c_out == x.c;
    let add = |(i, ys): (usize, &mut [f64])| {
        let xs = &x.data[i * x_sample..(i + 1) * x_sample];
        if identity {
            ys.iter_mut().zip(xs).for_each(|(v, s)| *v += s);
            return;
        }
        for c in 0..x.c {
            for yy in 0..ho {
                let row = &mut ys[((front + c) * ho + yy) * wo..][..wo];
                let src = &xs[(c * x.h + yy * stride) * x.w..];
                for (xx, v) in row.iter_mut().enumerate() {
                    *v += src[xx * stride];
                }
            }
        }
    };
    let sample = c_out * ho * wo;
    if y.data.len() >= PAR_ELEMENTS {
        y.data.par_chunks_mut(sample).enumerate().for_each(add);
    } else {
        y.data.chunks_mut(sample).enumerate().for_each(add);
    }
}

/// Adds the adjoint of [`add_shortcut`] of `d` onto `dx` (one cotangent row per row of
/// both): `dx ← dx + s` with `s` the shortcut's cotangent (`d` itself, or `d`'s middle
/// channels at the even positions and 0 elsewhere), every entry, zeros included, so that
/// signed zeros come out as the sum of the two whole tensors gives them. Rows in parallel
/// when large.
fn add_shortcut_backward(dx: &mut Act, d: &Act, stride: usize) {
    let (c_in, h, w) = (dx.c, dx.h, dx.w);
    let front = (d.c - c_in) / 2;
    let identity = stride == 1 && c_in == d.c;
    let d_row = d.c * d.plane();
    let add = |(v, xs): (usize, &mut [f64])| {
        let ds = &d.data[v * d_row..(v + 1) * d_row];
        if identity {
            xs.iter_mut().zip(ds).for_each(|(x, s)| *x += s);
            return;
        }
        for c in 0..c_in {
            for iy in 0..h {
                let row = &mut xs[(c * h + iy) * w..][..w];
                let (y, on_row) = (iy / stride, iy % stride == 0 && iy / stride < d.h);
                for (ix, x) in row.iter_mut().enumerate() {
                    let s = if on_row && ix % stride == 0 && ix / stride < d.w {
                        ds[((front + c) * d.h + y) * d.w + ix / stride]
                    } else {
                        0.0
                    };
                    *x += s;
                }
            }
        }
    };
    let row = c_in * h * w;
    if dx.data.len() >= PAR_ELEMENTS {
        dx.data.par_chunks_mut(row).enumerate().for_each(add);
    } else {
        dx.data.chunks_mut(row).enumerate().for_each(add);
    }
}

#[cfg(test)]
mod tests {
    //! The GEMM kernels against the direct loops they replaced (kept here as the reference).
    use super::*;
    use crate::seed::point_rng;

    /// Reference: the convolution written as its definition, one multiply-add at a time.
    fn conv_forward_reference(input: &Act, w: &[f64], c_out: usize, stride: usize) -> Act {
        let (ho, wo) = (out_size(input.h, stride), out_size(input.w, stride));
        let mut out = Act::zeros(input.n, c_out, ho, wo);
        for n in 0..input.n {
            for o in 0..c_out {
                for c in 0..input.c {
                    for a in 0..3 {
                        for b in 0..3 {
                            let wv = w[((o * input.c + c) * 3 + a) * 3 + b];
                            for y in 0..ho {
                                for x in 0..wo {
                                    let iy = (y * stride + a) as isize - 1;
                                    let ix = (x * stride + b) as isize - 1;
                                    if iy < 0 || ix < 0 {
                                        continue;
                                    }
                                    let (iy, ix) = (iy as usize, ix as usize);
                                    if iy < input.h && ix < input.w {
                                        out.data[((n * c_out + o) * ho + y) * wo + x] += wv
                                            * input.data
                                                [((n * input.c + c) * input.h + iy) * input.w + ix];
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

    /// Reference adjoint, per cotangent row v (sample `v / group`): `∂L/∂in` of row v and
    /// `∂L/∂w` of row v, each entry its defining sum.
    fn conv_backward_reference(
        input: &Act,
        w: &[f64],
        dz: &Act,
        stride: usize,
    ) -> (Act, Vec<Vec<f64>>) {
        let group = dz.n / input.n;
        let (c_in, c_out) = (input.c, dz.c);
        let mut dx = Act::zeros(dz.n, c_in, input.h, input.w);
        let mut dws = vec![vec![0.0; w.len()]; dz.n];
        for (v, dw) in dws.iter_mut().enumerate() {
            let i = v / group;
            for o in 0..c_out {
                for c in 0..c_in {
                    for a in 0..3 {
                        for b in 0..3 {
                            let wi = ((o * c_in + c) * 3 + a) * 3 + b;
                            for y in 0..dz.h {
                                for x in 0..dz.w {
                                    let iy = (y * stride + a) as isize - 1;
                                    let ix = (x * stride + b) as isize - 1;
                                    if iy < 0 || ix < 0 {
                                        continue;
                                    }
                                    let (iy, ix) = (iy as usize, ix as usize);
                                    if iy >= input.h || ix >= input.w {
                                        continue;
                                    }
                                    let g = dz.data[((v * c_out + o) * dz.h + y) * dz.w + x];
                                    let at =
                                        |n: usize| ((n * c_in + c) * input.h + iy) * input.w + ix;
                                    dw[wi] += g * input.data[at(i)];
                                    dx.data[at(v)] += g * w[wi];
                                }
                            }
                        }
                    }
                }
            }
        }
        (dx, dws)
    }

    fn random_act(n: usize, c: usize, h: usize, w: usize, tag: &str) -> Act {
        let mut r = point_rng(3, "conv", &[("case", tag.to_string())], 0);
        let mut a = Act::zeros(n, c, h, w);
        a.data.iter_mut().for_each(|v| *v = normal(&mut r));
        a
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-12 * scale)
    }

    #[test]
    fn gemm_convolution_equals_the_direct_loops() {
        // odd and even sides, stride 1 and 2, one and several input channels
        for (n, c_in, c_out, side, stride) in [
            (2, 1, 4, 7, 1),
            (3, 4, 8, 8, 2),
            (1, 3, 2, 5, 2),
            (2, 3, 2, 1, 1),
            (1, 2, 3, 2, 1),
        ] {
            let input = random_act(n, c_in, side, side + 1, "input");
            let w = random_act(1, c_out, c_in, 9, "w").data;
            let got = conv_forward(&input, &w, c_out, stride);
            let want = conv_forward_reference(&input, &w, c_out, stride);
            assert_eq!(
                (got.n, got.c, got.h, got.w),
                (want.n, want.c, want.h, want.w)
            );
            assert!(
                close(&got.data, &want.data),
                "forward {n} {c_in} {c_out} {side} {stride}"
            );
            // three cotangent rows per sample, as in one sample's Jacobian rows
            let group = 3;
            let dz = random_act(n * group, c_out, got.h, got.w, "dz");
            let (dx_ref, dw_ref) = conv_backward_reference(&input, &w, &dz, stride);
            let (dx, dw_rows) = conv_backward(&input, &w, &dz, stride, true, true);
            assert!(close(&dx.data, &dx_ref.data), "∂in");
            assert!(close(&dw_rows, &dw_ref.concat()), "∂w per row");
            let (_, dw_sum) = conv_backward(&input, &w, &dz, stride, false, false);
            let sum: Vec<f64> = (0..w.len())
                .map(|j| dw_ref.iter().map(|r| r[j]).sum())
                .collect();
            assert!(close(&dw_sum, &sum), "∂w summed");
            // again, on the per-sample buffer the call above left (and, from the second
            // shape on, a larger one before it): the same bits
            let (_, again) = conv_backward(&input, &w, &dz, stride, false, false);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&again), bits(&dw_sum), "∂w summed on a reused buffer");
        }
    }

    /// Every batch norm's γ and β drawn from `draw`, away from their initial 1 and 0, so that
    /// batch norm's gradients (and the ReLU's clipping after it) are generic.
    fn redraw_bn(net: &mut ResNet, mut draw: impl FnMut() -> f64) {
        for t in net.tensors.clone() {
            if matches!(t.kind, TensorKind::BnWeight | TensorKind::BnBias) {
                for v in &mut net.theta[t.range()] {
                    *v = draw();
                }
            }
        }
    }

    #[test]
    fn jacobian_slices_by_segment_stack_to_the_whole_jacobian() {
        let spec = ResNetSpec {
            channels: 2,
            height: 5,
            width: 5,
            base_width: 2,
            blocks_per_stage: 2,
            classes: 3,
        };
        let mut r = point_rng(4, "jacobian-segments", &[], 0);
        let net = ResNet::kaiming(spec, &mut r);
        let x = DMatrix::from_fn(spec.input_dim(), 3, |_, _| normal(&mut r));
        let stats = net.batch_stats(&x);
        let mask: Vec<bool> = (0..net.num_params()).map(|j| j % 4 != 2).collect();
        let whole = net.jacobian_frozen_t(&x, &stats, Some(&mask));
        let kept_in = |seg: &Segment| net.segment_params(seg).filter(|&j| mask[j]).count();
        let block_sizes: Vec<usize> = (0..6)
            .map(|b| {
                kept_in(&Segment {
                    blocks: b..b + 1,
                    head: false,
                    stem: false,
                })
            })
            .collect();
        for max in [0, block_sizes[5] + block_sizes[4], 90, usize::MAX] {
            let segments = net.segments(Some(&mask), max);
            // consecutive from the top, covering every block, head on top, stem at the bottom
            assert!(
                segments[0].head && segments.last().unwrap().stem,
                "{segments:?}"
            );
            assert_eq!(segments[0].blocks.end, 6);
            assert_eq!(segments.last().unwrap().blocks.start, 0);
            for pair in segments.windows(2) {
                assert_eq!(pair[0].blocks.start, pair[1].blocks.end);
                assert!(!pair[0].stem && !pair[1].head);
            }
            for seg in &segments {
                assert!(!seg.blocks.is_empty());
                assert!(
                    seg.blocks.len() == 1 || kept_in(seg) <= max,
                    "{seg:?} over {max}"
                );
            }
            if max == usize::MAX {
                assert_eq!(segments, vec![net.whole()]);
            }
            if max == 0 {
                assert_eq!(segments.len(), 6);
            }
            // the slices, bottom segment's rows first, are the whole Jᵀ to the bit
            // with the forward tapes kept, and with the forward pass repeated per segment
            for tape_bytes in [usize::MAX, 0] {
                let mut slices = Vec::new();
                net.jacobian_frozen_t_segments(
                    &x,
                    &stats,
                    Some(&mask),
                    &segments,
                    tape_bytes,
                    // one caller takes each slice, the other copies it (the buffer reused)
                    |_, jt| {
                        slices.push(if tape_bytes == 0 {
                            std::mem::replace(jt, DMatrix::zeros(0, 0))
                        } else {
                            jt.clone()
                        })
                    },
                );
                let rows: usize = slices.iter().map(|s| s.nrows()).sum();
                assert_eq!(rows, whole.nrows());
                let mut at = 0;
                for jt in slices.iter().rev() {
                    assert_eq!(jt.ncols(), whole.ncols());
                    for c in 0..jt.ncols() {
                        for r in 0..jt.nrows() {
                            assert_eq!(jt[(r, c)].to_bits(), whole[(at + r, c)].to_bits());
                        }
                    }
                    at += jt.nrows();
                }
            }
        }
    }

    #[test]
    fn forward_without_tape_equals_the_taped_forward_to_the_bit() {
        // two stages (a stride-2 block with its padded shortcut), β < 0 so some batch-norm
        // outputs are clipped by the ReLU, and enough entries for the parallel branch
        let spec = ResNetSpec {
            channels: 2,
            height: 9,
            width: 8,
            base_width: 4,
            blocks_per_stage: 2,
            classes: 3,
        };
        let mut r = point_rng(6, "lean-forward", &[], 0);
        let mut net = ResNet::kaiming(spec, &mut r);
        redraw_bn(&mut net, || normal(&mut r));
        for n in [3, PAR_ELEMENTS / (4 * 72) + 1] {
            let x = DMatrix::from_fn(spec.input_dim(), n, |_, _| normal(&mut r));
            let bits = |m: &DMatrix<f64>| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            let taped = net.forward_tape(&x, BnMode::Batch, None);
            assert_eq!(bits(&net.forward(&x)), bits(&taped.output));
            let stat_bits = |st: &[BnStats]| -> Vec<u64> {
                st.iter()
                    .flat_map(|s| s.mean.iter().chain(&s.s).map(|v| v.to_bits()))
                    .collect()
            };
            assert_eq!(stat_bits(&net.batch_stats(&x)), stat_bits(&taped.stats));
            let stats: Vec<BnStats> = taped
                .stats
                .iter()
                .map(|st| BnStats {
                    mean: st.mean.iter().map(|m| m + 0.25).collect(),
                    s: st.s.iter().map(|s| s * 1.5).collect(),
                })
                .collect();
            let frozen = net.forward_tape(&x, BnMode::Frozen, Some(&stats)).output;
            assert_eq!(bits(&net.forward_frozen(&x, &stats)), bits(&frozen));
            assert_ne!(bits(&frozen), bits(&taped.output));
        }
    }

    #[test]
    fn jacobian_rows_together_equal_one_backward_pass_per_row() {
        let spec = ResNetSpec {
            channels: 3,
            height: 6,
            width: 5,
            base_width: 4,
            blocks_per_stage: 1,
            classes: 3,
        };
        let mut r = point_rng(4, "jacobian-rows", &[], 0);
        let mut net = ResNet::kaiming(spec, &mut r);
        redraw_bn(&mut net, || 0.5 + normal(&mut r).abs());
        let x = DMatrix::from_fn(spec.input_dim(), 4, |_, _| normal(&mut r));
        let stats = net.batch_stats(&x);
        let jac = net.jacobian_frozen(&x, &stats);
        let k = spec.classes;
        for i in 0..x.ncols() {
            let tape =
                net.forward_tape(&x.columns(i, 1).into_owned(), BnMode::Frozen, Some(&stats));
            for o in 0..k {
                let mut dy = DMatrix::zeros(1, k);
                dy[(0, o)] = 1.0;
                let g = net.backward(&tape, &dy);
                let row: Vec<f64> = jac.row(i * k + o).iter().copied().collect();
                assert!(close(&row, &g), "row {i}·{k}+{o}");
            }
        }
        // the masked Jᵀ is the kept rows of the full Jᵀ
        let mask: Vec<bool> = (0..net.num_params()).map(|j| j % 3 != 1).collect();
        let jt = net.jacobian_frozen_t(&x, &stats, Some(&mask));
        let kept: Vec<usize> = (0..mask.len()).filter(|&j| mask[j]).collect();
        assert_eq!(jt.nrows(), kept.len());
        for (r, &j) in kept.iter().enumerate() {
            for c in 0..jt.ncols() {
                assert_eq!(jt[(r, c)], jac[(c, j)]);
            }
        }
    }
}
