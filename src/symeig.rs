//! Eigenvalues of a dense symmetric matrix in two stages: dense → band by blocked Householder
//! transformations (the work in matrix products), band → tridiagonal by plane rotations that
//! chase the bulge down the band, then the implicit QL iteration on the tridiagonal matrix.
//!
//! Stage 1, dense → band of half-bandwidth `b`. For the panel of columns `k..k+b`, the block
//! below the band `P = A[k+b.., k..k+b]` is factored `P = Q R` by Householder reflectors, with
//! `Q = H_1 ⋯ H_b = I − V T Vᵀ` (compact WY: `V` the reflectors, `T` upper triangular). Then
//! `R` is the band's part of the panel and the trailing matrix `S = A[k+b.., k+b..]` becomes
//! `Qᵀ S Q = S − V Zᵀ − Z Vᵀ` with `W = S V T` and `Z = W − ½ V (Tᵀ Vᵀ W)` (the correction
//! uses that `Tᵀ Vᵀ S V T` is symmetric). `S V` (as `Vᵀ S`, from the lower triangle) and the
//! rank-2b update of the lower triangle are cut into column blocks of `S`, each one
//! sequential product: `4/3 n³` flops for the whole reduction, at the speed of the product.
//!
//! Stage 2, band → tridiagonal (Schwarz's rotations). Column by column, the entries below the
//! subdiagonal are annihilated from the bottom of the band up, each by a rotation of two
//! adjacent rows and columns; a rotation of `(p, p+1)` makes one entry outside the band,
//! `(p+b+1, p)`, which the rotation of `(p+b, p+b+1)` annihilates, and so on down the matrix.
//! About `n²/2` rotations of `2b` entries each: `6 b n²` flops.
//!
//! Stage 3, implicit QL with Wilkinson's shift: for the unreduced block `l..=m` (an off-diagonal
//! `e_i` counts as zero when `|e_i| ≤ ε (|d_i| + |d_{i+1}|)`), the shift is the eigenvalue of the
//! leading 2×2 block nearer `d_l`, and one sweep of plane rotations from the bottom chases the
//! bulge up to row l.
//!
//! All three stages are backward stable: the eigenvalues are those of `A + E` with
//! `‖E‖ = O(n ε ‖A‖)`, as for LAPACK's routines. Determinism: the products of stage 1 are
//! sequential products on column blocks of a fixed width (a function of the matrix order
//! only, run in parallel where [`crate::linalg`]'s split says so), stage 2
//! on two threads applies the same rotations in the same order to every entry as on one
//! (a pipeline of the rotation chains, [`Band::tridiagonalize_pipelined`]) and stage 3 is
//! sequential, so the eigenvalues are a function of the matrix alone whatever the threads.

use crate::{Error, Result};
use faer::linalg::matmul::{self, triangular::BlockStructure};
use faer::{Accum, MatMut, MatRef, Par};

/// Half-bandwidth of the band stage 1 leaves (the panel width of its products).
pub const BAND: usize = 32;

/// Eigenvalues, in increasing order, of the symmetric `n × n` matrix stored column-major in
/// `a` (only the lower triangle is read; `a` is overwritten). `par` runs the products of
/// stage 1; where it splits them and the rayon pool has more than one thread, stage 2 runs
/// on two threads (the same bits).
pub fn eigenvalues(a: &mut [f64], n: usize, par: impl Fn(usize) -> Par) -> Result<Vec<f64>> {
    assert_eq!(a.len(), n * n, "symmetric eigenvalues: square matrix");
    let b = BAND.min(n.saturating_sub(1)).max(1);
    // the pipeline gives the same bits as one thread: it is only a question of cores
    let two = !matches!(par(n), Par::Seq) && rayon::current_num_threads() > 1;
    to_band(a, n, b, par);
    let band = Band::from_lower(a, n, b);
    let (d, e) = if two {
        band.tridiagonalize_pipelined()
    } else {
        band.tridiagonalize()
    };
    let mut eigs = tridiagonal_eigenvalues(d, e)?;
    eigs.sort_by(f64::total_cmp);
    Ok(eigs)
}

/// Stage 1: `A ← Qᵀ A Q` of half-bandwidth `b` in the lower triangle of the column-major
/// `n × n` matrix `a` (entries below the band are set to zero; the upper triangle is not
/// read, and only scratch is written there: the parts of the diagonal blocks above the
/// diagonal).
pub fn to_band(a: &mut [f64], n: usize, b: usize, par: impl Fn(usize) -> Par) {
    let mut v = vec![0.0; n * b];
    let mut w = vec![0.0; n * b];
    let mut y = vec![0.0; n * b];
    let mut pair = vec![0.0; 2 * n * b];
    let mut swapped = vec![0.0; 2 * n * b];
    let mut t = vec![0.0; b * b];
    let mut small = vec![0.0; b * b];
    let mut diag = vec![0.0; n.div_ceil(PRODUCT_BLOCK) * PRODUCT_BLOCK * PRODUCT_BLOCK];
    assert!(
        b <= PRODUCT_BLOCK,
        "stage 1: a panel lies in one column block"
    );
    // the panel at column k, as (its first row below the band, its reflectors); its
    // reflectors are computed during panel k − b's update (look-ahead)
    let panel = |k: usize| (k + b + 1 < n).then(|| (k + b, b.min(n - k - b - 1)));
    let factor = |k: usize, cols: &mut [f64], v: &mut [f64], t: &mut [f64]| {
        if let Some((top, nb)) = panel(k) {
            let r = n - top;
            panel_qr(
                &mut cols[..b * n],
                n,
                top,
                nb,
                &mut v[..r * nb],
                &mut t[..nb * nb],
            );
        }
    };
    factor(0, a, &mut v, &mut t);
    let mut k = 0;
    while let Some((top, nb)) = panel(k) {
        let r = n - top;
        let (v, w) = (&mut v[..r * nb], &mut w[..r * nb]);
        let (t, small) = (&mut t[..nb * nb], &mut small[..nb * nb]);
        // Yᵀ = Vᵀ S, S the trailing r × r block (lower triangle) at (top, top), then W = Y T
        let vm = MatRef::from_column_major_slice(v, r, nb);
        let split = !matches!(par(r), Par::Seq);
        let yt = &mut y[..r * nb];
        symmetric_product(a, n, top, vm, yt, &mut diag, split);
        let y = MatRef::from_column_major_slice(yt, nb, r).transpose();
        matmul::triangular::matmul(
            MatMut::from_column_major_slice_mut(w, r, nb),
            BlockStructure::Rectangular,
            Accum::Replace,
            y,
            BlockStructure::Rectangular,
            MatRef::from_column_major_slice(t, nb, nb),
            BlockStructure::TriangularUpper,
            1.0,
            Par::Seq,
        );
        // M = Vᵀ W (nb × nb), then small = Tᵀ M, then Z = W − ½ V small
        let wm = MatRef::from_column_major_slice(w, r, nb);
        let mut m = vec![0.0; nb * nb];
        matmul::matmul(
            MatMut::from_column_major_slice_mut(&mut m, nb, nb),
            Accum::Replace,
            vm.transpose(),
            wm,
            1.0,
            Par::Seq,
        );
        for j in 0..nb {
            for i in 0..nb {
                let mut acc = 0.0;
                for l in 0..=i {
                    acc += t[i * nb + l] * m[j * nb + l];
                }
                small[j * nb + i] = acc;
            }
        }
        matmul::matmul(
            MatMut::from_column_major_slice_mut(w, r, nb),
            Accum::Add,
            vm,
            MatRef::from_column_major_slice(small, nb, nb),
            -0.5,
            Par::Seq,
        );
        // lower triangle of S ← S − V Zᵀ − Z Vᵀ = S − [V Z] [Z V]ᵀ, products of inner
        // dimension 2nb
        let (lhs, rhs) = (&mut pair[..2 * r * nb], &mut swapped[..2 * r * nb]);
        lhs[..r * nb].copy_from_slice(v);
        lhs[r * nb..].copy_from_slice(w);
        rhs[..r * nb].copy_from_slice(w);
        rhs[r * nb..].copy_from_slice(v);
        // the first column block (which holds the next panel) first, then the next panel's
        // QR on one thread while the other blocks are updated
        let (l, rt) = (
            MatRef::from_column_major_slice(lhs, r, 2 * nb),
            MatRef::from_column_major_slice(rhs, r, 2 * nb),
        );
        let (first, rest) = a[top * n..].split_at_mut(n * PRODUCT_BLOCK.min(r));
        symmetric_update(first, n, top, 0, l, rt, false);
        k += b;
        let mut next = || factor(k, first, v, t);
        let mut others = || symmetric_update(rest, n, top, PRODUCT_BLOCK, l, rt, split);
        if split {
            rayon::join(next, others);
        } else {
            next();
            others();
        }
    }
}

/// Columns of the trailing matrix per block of [`symmetric_product`].
const PRODUCT_BLOCK: usize = 128;

/// `Yᵀ = Vᵀ S` into `yt` (nb × r, column-major), for the symmetric trailing matrix
/// `S = a[top.., top..]` (r × r) of which only the lower triangle is read. The columns of
/// `S` are cut into blocks J = j0..j1 of [`PRODUCT_BLOCK`], and
/// `Yᵀ[:, J] = V[J, :]ᵀ D + V[j1.., :]ᵀ S[j1.., J] + V[..j0, :]ᵀ S[J, ..j0]ᵀ`, with `D` the
/// diagonal block made whole from its lower triangle (a copy), the second term the lower
/// triangle below it and the third the row block of J left of it (the column block above
/// it, by symmetry). Each block costs `2 r nb |J|` flops in three sequential products, so the
/// blocks run in parallel (`split`) with the same bits in any order: a function of the
/// shapes alone. Products of this shape (few rows, many columns) run about twice as fast in
/// faer as `S V` with a triangular `S`.
fn symmetric_product(
    a: &[f64],
    n: usize,
    top: usize,
    v: MatRef<'_, f64>,
    yt: &mut [f64],
    diag: &mut [f64],
    split: bool,
) {
    use rayon::prelude::*;
    let (r, nb) = v.shape();
    let s = MatRef::from_column_major_slice(&a[top * n..], n, r).subrows(top, r);
    let block = |(jb, (out, d)): (usize, (&mut [f64], &mut [f64]))| {
        let j0 = jb * PRODUCT_BLOCK;
        let c = out.len() / nb;
        let j1 = j0 + c;
        let d = &mut d[..c * c];
        for j in 0..c {
            let col = &a[(top + j0 + j) * n + top + j0..][..c];
            d[j * c + j..(j + 1) * c].copy_from_slice(&col[j..]);
            for i in 0..j {
                d[j * c + i] = d[i * c + j];
            }
        }
        let mut out = MatMut::from_column_major_slice_mut(out, nb, c);
        matmul::matmul(
            out.as_mut(),
            Accum::Replace,
            v.subrows(j0, c).transpose(),
            MatRef::from_column_major_slice(d, c, c),
            1.0,
            Par::Seq,
        );
        for (lhs, rhs) in [
            (v.subrows(j1, r - j1), s.submatrix(j1, j0, r - j1, c)),
            (v.subrows(0, j0), s.submatrix(j0, 0, c, j0).transpose()),
        ] {
            if lhs.nrows() > 0 {
                matmul::matmul(
                    out.as_mut(),
                    Accum::Add,
                    lhs.transpose(),
                    rhs,
                    1.0,
                    Par::Seq,
                );
            }
        }
    };
    let (width, square) = (nb * PRODUCT_BLOCK, PRODUCT_BLOCK * PRODUCT_BLOCK);
    if split {
        yt.par_chunks_mut(width)
            .zip(diag.par_chunks_mut(square))
            .enumerate()
            .for_each(block);
    } else {
        yt.chunks_mut(width)
            .zip(diag.chunks_mut(square))
            .enumerate()
            .for_each(block);
    }
}

/// `S ← S − L Rᵀ` on the lower triangle of the trailing matrix `S` (r × r at row `top`),
/// columns `from..` of it, stored in `cols` (ld n), for `L`, `R` of r × 2nb. Column block
/// J = j0..j1 (of [`PRODUCT_BLOCK`]) takes `S[j0.., J] −= L[j0.., :] R[J, :]ᵀ`: its rows from the diagonal block down, so the upper
/// part of the diagonal block is written too (never read: [`symmetric_product`] rebuilds it
/// from the lower part). One sequential product per block, so the blocks run in parallel
/// (`split`) with the same bits in any order.
fn symmetric_update(
    cols: &mut [f64],
    n: usize,
    top: usize,
    from: usize,
    l: MatRef<'_, f64>,
    rt: MatRef<'_, f64>,
    split: bool,
) {
    use rayon::prelude::*;
    let r = l.nrows();
    let block = |(jb, cols): (usize, &mut [f64])| {
        let j0 = from + jb * PRODUCT_BLOCK;
        let c = cols.len() / n;
        let dst = MatMut::from_column_major_slice_with_stride_mut(cols, n, c, n)
            .subrows_mut(top + j0, r - j0);
        matmul::matmul(
            dst,
            Accum::Add,
            l.subrows(j0, r - j0),
            rt.subrows(j0, c).transpose(),
            -1.0,
            Par::Seq,
        );
    };
    let count = (cols.len() / n).min(r.saturating_sub(from));
    let cols = &mut cols[..count * n];
    if split {
        cols.par_chunks_mut(n * PRODUCT_BLOCK)
            .enumerate()
            .for_each(block);
    } else {
        cols.chunks_mut(n * PRODUCT_BLOCK)
            .enumerate()
            .for_each(block);
    }
}

/// Householder QR of the panel `P = cols[top.., ..b]` (`cols` the panel's b columns of the
/// matrix, ld n; r = n − top rows): reflectors `H_i = I − τ_i v_i v_iᵀ` (`v_i` with a unit
/// at row i, zeros above) into `v` (r × nb), the compact-WY factor `T` into `t`, `R` into
/// the panel's top rows and zeros below it.
fn panel_qr(cols: &mut [f64], n: usize, top: usize, nb: usize, v: &mut [f64], t: &mut [f64]) {
    let a = cols;
    let b = a.len() / n;
    let r = n - top;
    v.fill(0.0);
    t.fill(0.0);
    let mut taus = vec![0.0; nb];
    for i in 0..nb {
        let col = i * n + top;
        let x = &mut a[col + i..col + r];
        let alpha = x[0];
        let sigma: f64 = x[1..].iter().map(|z| z * z).sum();
        let vi = &mut v[i * r..(i + 1) * r];
        vi[i] = 1.0;
        if sigma == 0.0 {
            continue; // nothing to annihilate: H_i = I (τ = 0)
        }
        let mu = (alpha * alpha + sigma).sqrt();
        let beta = if alpha <= 0.0 { mu } else { -mu };
        let tau = (beta - alpha) / beta;
        let scale = 1.0 / (alpha - beta);
        for (dst, &src) in vi[i + 1..].iter_mut().zip(&x[1..]) {
            *dst = src * scale;
        }
        x[0] = beta;
        x[1..].fill(0.0);
        taus[i] = tau;
        // H_i on the panel's later columns: P ← P − τ v_i (v_iᵀ P)
        let later = b - i - 1;
        if later > 0 {
            let vv = MatRef::from_column_major_slice(&v[i * r + i..(i + 1) * r], r - i, 1);
            let start = (i + 1) * n + top + i;
            let end = b * n;
            let mut p = MatMut::from_column_major_slice_with_stride_mut(
                &mut a[start..end],
                r - i,
                later,
                n,
            );
            let mut row = vec![0.0; later];
            let mut rowm = MatMut::from_column_major_slice_mut(&mut row, 1, later);
            matmul::matmul(
                rowm.as_mut(),
                Accum::Replace,
                vv.transpose(),
                p.as_ref(),
                1.0,
                Par::Seq,
            );
            matmul::matmul(p.as_mut(), Accum::Add, vv, rowm.as_ref(), -tau, Par::Seq);
        }
    }
    // T: T_ii = τ_i, T[..i, i] = −τ_i T[..i, ..i] (V[:, ..i]ᵀ v_i), with the Gram matrix
    // G = VᵀV of the reflectors from one product
    let vm = MatRef::from_column_major_slice(v, r, nb);
    let mut gram = vec![0.0; nb * nb];
    matmul::matmul(
        MatMut::from_column_major_slice_mut(&mut gram, nb, nb),
        Accum::Replace,
        vm.transpose(),
        vm,
        1.0,
        Par::Seq,
    );
    for i in 0..nb {
        let tau = taus[i];
        t[i * nb + i] = tau;
        if tau == 0.0 {
            continue;
        }
        let z = &gram[i * nb..i * nb + i];
        for row in 0..i {
            let mut acc = 0.0;
            for l in row..i {
                acc += t[l * nb + row] * z[l];
            }
            t[i * nb + row] = -tau * acc;
        }
    }
}

/// The lower band of a symmetric matrix, with room for one entry outside it per column (the
/// bulge of stage 2): column j holds rows `j ..= j + b + 1`.
pub struct Band {
    n: usize,
    b: usize,
    data: Vec<f64>,
}

impl Band {
    /// The band of half-bandwidth `b` of the column-major `n × n` matrix `a` (lower triangle).
    pub fn from_lower(a: &[f64], n: usize, b: usize) -> Band {
        let ld = b + 2;
        let mut data = vec![0.0; n * ld];
        for j in 0..n {
            let rows = (n - j).min(b + 1);
            data[j * ld..j * ld + rows].copy_from_slice(&a[j * n + j..j * n + j + rows]);
        }
        Band { n, b, data }
    }

    fn at(&self, i: usize, j: usize) -> usize {
        debug_assert!(i >= j && i - j <= self.b + 1);
        j * (self.b + 2) + (i - j)
    }

    /// Stage 2: the diagonal and subdiagonal of the tridiagonal matrix similar to the band,
    /// one rotation after another (the reference order).
    pub fn tridiagonalize(mut self) -> (Vec<f64>, Vec<f64>) {
        let (n, b) = (self.n, self.b);
        for (mut p, mut col) in self.chains() {
            loop {
                rotate(&mut self.data, 0, n, b, p, col);
                match next_step(p, n, b) {
                    Some(next) => (col, p) = (p, next),
                    None => break,
                }
            }
        }
        self.diagonals()
    }

    /// Stage 2 on two threads, with the same rotations in the same order on every entry as
    /// [`Band::tridiagonalize`], so the same bits. A step at p touches only rows and columns
    /// p, p + 1 and, with them, indices p − b ..= p + b + 1, stored in the band's columns
    /// p − b ..= p + 1; two steps at p < p' share an entry only when p' ≤ p + b + 1. The
    /// matrix is cut at x (below): thread 0 takes every chain's steps above x, thread 1 the
    /// steps from x down (a chain's steps go down, so thread 0 hands each chain over once),
    /// each thread its chains in order, and the data of a region stays with one core. Thread 1
    /// starts chain c once thread 0 has handed it over; thread 0 takes a step at p of chain c
    /// with p + b + 1 ≥ x only once chain c − 2 is done and chain c − 1 has taken every step
    /// at or above p + b + 1 (steps further up share nothing with thread 1's). Every pair of
    /// steps that share an entry keeps its order, and the two steps that run at once are
    /// b + 2 or more apart, on disjoint columns of the storage. The cut x = 2n/3 balances the
    /// two threads while both work: above x, Σ_j (x − j)⁺ ≈ x²/2 rotations' worth; below it,
    /// x (n − x) for the chains that start above x, then (n − x)²/2 on thread 1 alone.
    pub fn tridiagonalize_pipelined(mut self) -> (Vec<f64>, Vec<f64>) {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let (n, b) = (self.n, self.b);
        let ld = b + 2;
        let cut = 2 * n / 3;
        let chains = self.chains();
        // next[c]: position of chain c's next step (0 until thread 0 hands it over,
        // usize::MAX once done)
        let next: Vec<AtomicUsize> = chains.iter().map(|_| AtomicUsize::new(0)).collect();
        // set by a thread that panics, so that the other stops waiting for it
        let failed = AtomicBool::new(false);
        let wait = |ready: &dyn Fn() -> bool| wait_until(ready, &failed);
        let len = self.data.len();
        let base = SharedBand(self.data.as_mut_ptr());
        let step = |p: usize, col: usize| {
            let first = p.saturating_sub(b);
            let end = ((p + 2) * ld).min(len);
            // SAFETY: columns first ..= p + 1 of the storage lie inside `data`, and the step
            // the other thread takes meanwhile is b + 2 or more away (see above), on other
            // columns
            let window =
                unsafe { std::slice::from_raw_parts_mut(base.at(first * ld), end - first * ld) };
            rotate(window, first, n, b, p, col);
        };
        let upper = || {
            let _flag = PanicFlag(&failed);
            for (c, &(mut p, mut col)) in chains.iter().enumerate() {
                let mut ahead = 0;
                let handover = loop {
                    if p >= cut {
                        break p;
                    }
                    if c > 0 && p + b + 1 >= cut && ahead <= p + b + 1 {
                        // chain c − 2 done (so every earlier chain), and chain c − 1 past
                        // p + b + 1 (its handover counts: its steps above x are done)
                        if c > 1 {
                            wait(&|| next[c - 2].load(Ordering::Acquire) == usize::MAX);
                        }
                        wait(&|| next[c - 1].load(Ordering::Acquire) > p + b + 1);
                        ahead = next[c - 1].load(Ordering::Acquire);
                    }
                    step(p, col);
                    match next_step(p, n, b) {
                        Some(following) => (col, p) = (p, following),
                        None => break usize::MAX,
                    }
                };
                next[c].store(handover, Ordering::Release);
            }
        };
        let lower = || {
            let _flag = PanicFlag(&failed);
            for (c, &(mut p, mut col)) in chains.iter().enumerate() {
                wait(&|| next[c].load(Ordering::Acquire) != 0);
                let at = next[c].load(Ordering::Acquire);
                if at == usize::MAX {
                    continue;
                }
                // the chain's first step from the cut on, and the column it rotates against
                while p < at {
                    (col, p) = (p, p + b);
                }
                let mut steps = 0usize;
                loop {
                    step(p, col);
                    steps += 1;
                    match next_step(p, n, b) {
                        Some(following) => {
                            (col, p) = (p, following);
                            if steps.is_multiple_of(PUBLISH) {
                                next[c].store(p, Ordering::Release);
                            }
                        }
                        None => break,
                    }
                }
                next[c].store(usize::MAX, Ordering::Release);
            }
        };
        std::thread::scope(|scope| {
            scope.spawn(lower);
            upper();
        });
        self.diagonals()
    }

    /// Every chain of stage 2, in the reference order: column by column, the entries below
    /// the subdiagonal from the bottom of the band up; the chain that annihilates (j + l, j)
    /// rotates rows/columns (j + l − 1, j + l) against column j, then chases the entry each
    /// rotation puts outside the band down the matrix (steps at p, p + b, p + 2b, …, each
    /// against the column of the step before). As (first p, its column).
    fn chains(&self) -> Vec<(usize, usize)> {
        let (n, b) = (self.n, self.b);
        (0..n.saturating_sub(2))
            .flat_map(|j| (2..=b.min(n - 1 - j)).rev().map(move |l| (j + l - 1, j)))
            .collect()
    }

    fn diagonals(&self) -> (Vec<f64>, Vec<f64>) {
        let n = self.n;
        let d = (0..n).map(|i| self.data[self.at(i, i)]).collect();
        let e = (0..n.saturating_sub(1))
            .map(|i| self.data[self.at(i + 1, i)])
            .collect();
        (d, e)
    }
}

/// Steps a chain of the pipelined stage 2 takes between two reports of its position.
const PUBLISH: usize = 8;

/// The band's storage shared by the two threads of [`Band::tridiagonalize_pipelined`], which
/// write disjoint columns of it at any time.
struct SharedBand(*mut f64);
// SAFETY: the pointer is only turned into slices of columns no other thread touches at the
// same time (see `tridiagonalize_pipelined`)
unsafe impl Sync for SharedBand {}

impl SharedBand {
    /// The storage from entry `offset` on.
    ///
    /// # Safety
    /// `offset` within the band's storage.
    unsafe fn at(&self, offset: usize) -> *mut f64 {
        // SAFETY: the caller keeps offset inside the allocation
        unsafe { self.0.add(offset) }
    }
}

/// The position of a chain's step after the one at p (band of half-bandwidth b, order n),
/// if the bulge it leaves is inside the matrix.
fn next_step(p: usize, n: usize, b: usize) -> Option<usize> {
    (p + 1 + b < n).then_some(p + b)
}

/// Raises its flag if the thread that holds it unwinds.
struct PanicFlag<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for PanicFlag<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

/// Spins, then yields, until `ready()`; panics if the other thread has (`failed`).
fn wait_until(ready: &dyn Fn() -> bool, failed: &std::sync::atomic::AtomicBool) {
    let mut spins = 0u32;
    while !ready() {
        assert!(
            !failed.load(std::sync::atomic::Ordering::Acquire),
            "stage 2: the other thread panicked"
        );
        if spins < 1 << 10 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

/// The rotation of rows and columns `(p, q = p + 1)` that annihilates `(q, col)` against
/// `(p, col)`, applied to every stored entry of those rows and columns. `data` holds the
/// band's storage from column `first` on (at least to column q; `first ≤ p − b` unless
/// p < b).
fn rotate(data: &mut [f64], first: usize, n: usize, b: usize, p: usize, col: usize) {
    let ld = b + 2;
    let at = |i: usize, j: usize| (j - first) * ld + (i - j);
    let q = p + 1;
    let (x, y) = (data[at(p, col)], data[at(q, col)]);
    if y == 0.0 {
        return;
    }
    let r = pythag(x, y);
    let (c, s) = (x / r, y / r);
    // rows p and q left of p: columns from q − b − 1 on hold entries. Entry (p, k) is stored
    // at p + k·(b + 1) and (q, k) right after it, so the pairs are the first two entries of
    // consecutive runs of b + 1
    let left = q.saturating_sub(b + 1);
    if left < p {
        let start = at(p, left);
        for pair in data[start..].chunks_mut(b + 1).take(p - left) {
            let (u, w) = (pair[0], pair[1]);
            pair[0] = c * u + s * w;
            pair[1] = c * w - s * u;
        }
    }
    let (ip, iq) = (at(q, col), at(p, col));
    data[ip] = 0.0;
    data[iq] = r;
    // the 2 × 2 block
    let (ipp, iqp, iqq) = (at(p, p), at(q, p), at(q, q));
    let (app, aqp, aqq) = (data[ipp], data[iqp], data[iqq]);
    let (cc, ss, cs) = (c * c, s * s, c * s);
    data[ipp] = cc * app + 2.0 * cs * aqp + ss * aqq;
    data[iqq] = ss * app - 2.0 * cs * aqp + cc * aqq;
    data[iqp] = cs * (aqq - app) + (cc - ss) * aqp;
    // columns p and q below q: rows up to q + b (the last one outside the band of p); the two
    // runs are contiguous and column q starts after column p's storage
    let last = (q + b).min(n - 1);
    if last > q {
        let (cp, cq) = ((p - first) * ld, (q - first) * ld);
        let (lower, upper) = data.split_at_mut(cq);
        let len = last - q;
        let up = &mut lower[cp + 2..cp + 2 + len];
        let uq = &mut upper[1..1 + len];
        for (u, w) in up.iter_mut().zip(uq.iter_mut()) {
            let (x, y) = (*u, *w);
            *u = c * x + s * y;
            *w = c * y - s * x;
        }
    }
}

/// `√(x² + y²)`: the plain formula where its square neither overflows nor loses digits to
/// underflow (the common case, several times faster than `hypot`), else `hypot`.
#[inline]
fn pythag(x: f64, y: f64) -> f64 {
    let r = (x * x + y * y).sqrt();
    if r > 1e-140 && r < 1e150 {
        r
    } else {
        x.hypot(y)
    }
}

/// Sweeps on one block before an off-diagonal counts as negligible at `ε ‖T‖` as well.
const RELATIVE_SWEEPS: usize = 30;

/// Eigenvalues (unordered) of the symmetric tridiagonal matrix with diagonal `d` and
/// subdiagonal `e` by implicit QL sweeps with Wilkinson's shift.
pub fn tridiagonal_eigenvalues(mut d: Vec<f64>, e: Vec<f64>) -> Result<Vec<f64>> {
    let n = d.len();
    let mut e: Vec<f64> = e.into_iter().chain(std::iter::once(0.0)).take(n).collect();
    let eps = f64::EPSILON;
    // ‖T‖ bounded by its largest row sum
    let norm = (0..n).fold(0.0f64, |acc, i| {
        acc.max(d[i].abs() + e[i].abs() + if i > 0 { e[i - 1].abs() } else { 0.0 })
    });
    for l in 0..n {
        let mut sweeps = 0;
        loop {
            // the first negligible off-diagonal at or below l ends the block l..=m: relative
            // to its neighbours at first; after RELATIVE_SWEEPS sweeps relative to ‖T‖ (the
            // accuracy of the reduction before it: a block that holds both large and small
            // entries cannot resolve the small ones better)
            let floor = if sweeps < RELATIVE_SWEEPS {
                0.0
            } else {
                eps * norm
            };
            let mut m = l;
            while m + 1 < n && e[m].abs() > (eps * (d[m].abs() + d[m + 1].abs())).max(floor) {
                m += 1;
            }
            if m == l {
                break;
            }
            sweeps += 1;
            if sweeps > 90 {
                return Err(Error::Numerics(
                    "tridiagonal QL iteration did not converge".into(),
                ));
            }
            // Wilkinson shift from the 2×2 block at l, as a target for d_m
            let g0 = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let r0 = pythag(g0, 1.0);
            let mut g = d[m] - d[l] + e[l] / (g0 + r0.copysign(g0));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut deflated = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                let r = pythag(f, g);
                e[i + 1] = r;
                if r == 0.0 {
                    // an exact zero split the block: undo the shift below it and restart
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    deflated = true;
                    break;
                }
                s = f / r;
                c = g / r;
                let h = d[i + 1] - p;
                let t = (d[i] - h) * s + 2.0 * c * b;
                p = s * t;
                d[i + 1] = h + p;
                g = c * t - b;
            }
            if deflated {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    Ok(d)
}
