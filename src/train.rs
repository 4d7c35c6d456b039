//! Training: minibatch SGD with momentum and weight decay (PyTorch's `torch.optim.SGD`
//! semantics: `g ← ∇L + λθ`, `v ← μ v + g`, `θ ← θ − η v`, no dampening), mean-squared error
//! or cross-entropy, a deterministic minibatch order drawn from the point's generator,
//! magnitude pruning per tensor at initialisation with the masks kept through training, and
//! checkpoints at chosen epochs.

use crate::linalg;
use crate::nets::resnet::{BnMode, ResNet, TensorKind};
use crate::nets::DeepLinear;
use crate::seed::PointRng;
use crate::{Error, Result};
use nalgebra::DMatrix;
use rand_chacha::rand_core::Rng;

/// The training loss, averaged as PyTorch's default reduction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// `nn.MSELoss`: mean over samples and outputs of `(f − y)²`, targets one-hot.
    Mse,
    /// `nn.CrossEntropyLoss`: mean over samples of `−log softmax(f)_label`.
    CrossEntropy,
}

impl Loss {
    /// The loss of outputs `f` (k×b, one column per sample) against `labels`, and `∂L/∂f`.
    pub fn value_and_grad(self, f: &DMatrix<f64>, labels: &[u8]) -> (f64, DMatrix<f64>) {
        let (k, b) = f.shape();
        let mut grad = DMatrix::zeros(k, b);
        let mut total = 0.0;
        match self {
            Loss::Mse => {
                let scale = 1.0 / (k * b) as f64;
                for i in 0..b {
                    for o in 0..k {
                        let y = if usize::from(labels[i]) == o {
                            1.0
                        } else {
                            0.0
                        };
                        let r = f[(o, i)] - y;
                        total += r * r * scale;
                        grad[(o, i)] = 2.0 * r * scale;
                    }
                }
            }
            Loss::CrossEntropy => {
                for i in 0..b {
                    let col = f.column(i);
                    let max = col.max();
                    let z: f64 = col.iter().map(|v| (v - max).exp()).sum();
                    let label = usize::from(labels[i]);
                    total += (max + z.ln() - col[label]) / b as f64;
                    for o in 0..k {
                        let p = (col[o] - max).exp() / z;
                        grad[(o, i)] = (p - if o == label { 1.0 } else { 0.0 }) / b as f64;
                    }
                }
            }
        }
        (total, grad)
    }
}

/// A model the SGD loop can train: a flat parameter vector, a batch loss and its gradient.
pub trait Trainable {
    fn params(&self) -> Vec<f64>;
    fn set_params(&mut self, theta: &[f64]);
    /// Loss on the batch (`x` d×b, `labels`) and its gradient in the parameters.
    fn loss_and_grad(&self, x: &DMatrix<f64>, labels: &[u8], loss: Loss) -> (f64, Vec<f64>);
    /// Loss on the batch without the gradient.
    fn loss(&self, x: &DMatrix<f64>, labels: &[u8], loss: Loss) -> f64;
}

impl Trainable for DeepLinear {
    fn params(&self) -> Vec<f64> {
        DeepLinear::params(self)
    }

    fn set_params(&mut self, theta: &[f64]) {
        *self = self.with_params(theta);
    }

    /// Reverse mode through `W_L ⋯ W_1 X`: with `G_L = ∂L/∂f`, `∂L/∂W_ℓ = G_ℓ H_{ℓ-1}ᵀ` and
    /// `G_{ℓ-1} = W_ℓᵀ G_ℓ`, where `H_ℓ` are the forward activations.
    fn loss_and_grad(&self, x: &DMatrix<f64>, labels: &[u8], loss: Loss) -> (f64, Vec<f64>) {
        let mut acts = vec![x.clone()];
        for w in &self.weights {
            let next = linalg::matmul(w, acts.last().expect("non-empty"));
            acts.push(next);
        }
        let (value, mut g) = loss.value_and_grad(acts.last().expect("output"), labels);
        let mut grads: Vec<DMatrix<f64>> = Vec::with_capacity(self.weights.len());
        for (l, w) in self.weights.iter().enumerate().rev() {
            grads.push(linalg::matmul_nt(&g, &acts[l]));
            if l > 0 {
                g = linalg::matmul_tn(w, &g);
            }
        }
        grads.reverse();
        (
            value,
            grads.iter().flat_map(|m| m.iter().copied()).collect(),
        )
    }

    fn loss(&self, x: &DMatrix<f64>, labels: &[u8], loss: Loss) -> f64 {
        loss.value_and_grad(&self.forward(x), labels).0
    }
}

impl Trainable for ResNet {
    fn params(&self) -> Vec<f64> {
        self.theta.clone()
    }

    fn set_params(&mut self, theta: &[f64]) {
        self.theta.copy_from_slice(theta);
    }

    /// Batch statistics (training mode), gradient through them.
    fn loss_and_grad(&self, x: &DMatrix<f64>, labels: &[u8], loss: Loss) -> (f64, Vec<f64>) {
        let tape = self.forward_tape(x, BnMode::Batch, None);
        let (value, g) = loss.value_and_grad(&tape.output.transpose(), labels);
        (value, self.backward(&tape, &g.transpose()))
    }

    fn loss(&self, x: &DMatrix<f64>, labels: &[u8], loss: Loss) -> f64 {
        loss.value_and_grad(&self.forward(x).transpose(), labels).0
    }
}

/// SGD hyper-parameters and schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub loss: Loss,
    /// Epochs after which the callback sees the model (0 = at initialisation).
    pub checkpoints: Vec<usize>,
}

/// What one training run recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// Full-data training loss after each epoch, index 0 = at initialisation.
    pub loss: Vec<f64>,
}

/// A uniformly random permutation of `0..n` (Fisher–Yates on the point's generator).
pub fn permutation(n: usize, rng: &mut PointRng) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        // unbiased: rejection sampling on the top range
        let bound = (i + 1) as u64;
        let zone = u64::MAX - u64::MAX % bound;
        let j = loop {
            let r = rng.next_u64();
            if r < zone {
                break (r % bound) as usize;
            }
        };
        idx.swap(i, j);
    }
    idx
}

fn columns(x: &DMatrix<f64>, idx: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(x.nrows(), idx.len(), |r, c| x[(r, idx[c])])
}

/// Train `model` on (`x`, `labels`) with minibatch SGD. Each epoch draws a fresh permutation
/// from `rng` and walks it in batches (the last one may be smaller). `mask` (true = kept)
/// pins pruned parameters at zero: their gradient, momentum and value stay zero. The
/// callback runs at every checkpoint epoch with the model and the full-data loss.
pub fn train<M: Trainable>(
    model: &mut M,
    x: &DMatrix<f64>,
    labels: &[u8],
    schedule: &Schedule,
    mask: Option<&[bool]>,
    rng: &mut PointRng,
    mut at_checkpoint: impl FnMut(usize, &M, f64) -> Result<()>,
) -> Result<History> {
    let n = x.ncols();
    if n == 0 || labels.len() != n || schedule.batch == 0 {
        return Err(Error::Input(format!(
            "training needs samples, one label each and a positive batch (n = {n}, labels = {}, batch = {})",
            labels.len(),
            schedule.batch
        )));
    }
    let mut theta = model.params();
    if let Some(m) = mask {
        for (t, &keep) in theta.iter_mut().zip(m) {
            if !keep {
                *t = 0.0;
            }
        }
        model.set_params(&theta);
    }
    let mut velocity = vec![0.0; theta.len()];
    let mut history = History {
        loss: vec![model.loss(x, labels, schedule.loss)],
    };
    if schedule.checkpoints.contains(&0) {
        at_checkpoint(0, model, history.loss[0])?;
    }
    for epoch in 1..=schedule.epochs {
        let order = permutation(n, rng);
        for chunk in order.chunks(schedule.batch) {
            let xb = columns(x, chunk);
            let yb: Vec<u8> = chunk.iter().map(|&i| labels[i]).collect();
            let (_, grad) = model.loss_and_grad(&xb, &yb, schedule.loss);
            for i in 0..theta.len() {
                if mask.is_some_and(|m| !m[i]) {
                    continue;
                }
                let g = grad[i] + schedule.weight_decay * theta[i];
                velocity[i] = schedule.momentum * velocity[i] + g;
                theta[i] -= schedule.lr * velocity[i];
            }
            model.set_params(&theta);
        }
        let l = model.loss(x, labels, schedule.loss);
        if !l.is_finite() {
            return Err(Error::Diverged(format!(
                "training diverged at epoch {epoch} (loss {l}); lower the learning rate"
            )));
        }
        history.loss.push(l);
        if schedule.checkpoints.contains(&epoch) {
            at_checkpoint(epoch, model, l)?;
        }
    }
    Ok(history)
}

/// Which parameter tensors magnitude pruning reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneScope {
    /// The convolutions and the linear head; batch norm's γ and β are never pruned (ours).
    Weights,
    /// Every parameter tensor, batch norm's γ and β included, as the authors' pruning loop
    /// over `model.parameters()` does (docs/METHODS.md §7). At initialisation all γ are 1 and
    /// all β are 0, so the pruned entries of those tensors are ties, broken by position: the
    /// same channels lose γ and β, and their batch-norm output is 0 for good.
    EveryTensor,
}

/// Magnitude pruning per tensor at initialisation: in every tensor that `scope` reaches, the
/// `fraction` of entries with the smallest |w| are masked (`⌊fraction·len⌋` of them, ties
/// broken by position). Returns the mask (true = kept).
pub fn magnitude_mask(net: &ResNet, fraction: f64, scope: PruneScope) -> Vec<bool> {
    let mut mask = vec![true; net.num_params()];
    for t in &net.tensors {
        let weights = matches!(t.kind, TensorKind::Conv | TensorKind::Linear);
        if scope == PruneScope::Weights && !weights {
            continue;
        }
        let range = t.range();
        let values = &net.theta[range.clone()];
        let prune = (fraction * values.len() as f64).floor() as usize;
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[a].abs().total_cmp(&values[b].abs()).then(a.cmp(&b)));
        for &i in &order[..prune] {
            mask[range.start + i] = false;
        }
    }
    mask
}
