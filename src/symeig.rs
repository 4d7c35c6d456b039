//! Eigenvalues of a dense symmetric matrix in two stages: dense → band by blocked Householder
//! transformations (the work in matrix products), band → tridiagonal by plane rotations that
//! chase the bulge down the band, then the implicit QL iteration on the tridiagonal matrix.
//!
//! Stage 1, dense → band of half-bandwidth `b`. For the panel of columns `k..k+b`, the block
//! below the band `P = A[k+b.., k..k+b]` is factored `P = Q R` by Householder reflectors, with
//! `Q = H_1 ⋯ H_b = I − V T Vᵀ` (compact WY: `V` the reflectors, `T` upper triangular). Then
//! `R` is the band's part of the panel and the trailing matrix `S = A[k+b.., k+b..]` becomes
//! `Qᵀ S Q = S − V Zᵀ − Z Vᵀ` with `W = S V T` and `Z = W − ½ V (Tᵀ Vᵀ W)` (the correction
//! uses that `Tᵀ Vᵀ S V T` is symmetric). `S V` (from the lower triangle, as `tril(S) V +
//! strictly-lower(S)ᵀ V`) and the rank-2b update of the lower triangle are triangular matrix
//! products: `4/3 n³` flops for the whole reduction, at the speed of the product.
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
//! `‖E‖ = O(n ε ‖A‖)`, as for LAPACK's routines. Determinism: the products run through faer
//! with the fixed split of [`crate::linalg`] (a function of the matrix order only), stages 2
//! and 3 are sequential, so the eigenvalues are a function of the matrix alone whatever the
//! threads.

use crate::{Error, Result};
use faer::linalg::matmul::{self, triangular::BlockStructure};
use faer::{Accum, MatMut, MatRef, Par};

/// Half-bandwidth of the band stage 1 leaves (the panel width of its products).
pub const BAND: usize = 32;

/// Eigenvalues, in increasing order, of the symmetric `n × n` matrix stored column-major in
/// `a` (only the lower triangle is read; `a` is overwritten). `par` runs the products of
/// stage 1.
pub fn eigenvalues(a: &mut [f64], n: usize, par: impl Fn(usize) -> Par) -> Result<Vec<f64>> {
    assert_eq!(a.len(), n * n, "symmetric eigenvalues: square matrix");
    let b = BAND.min(n.saturating_sub(1)).max(1);
    to_band(a, n, b, par);
    let band = Band::from_lower(a, n, b);
    let (d, e) = band.tridiagonalize();
    let mut eigs = tridiagonal_eigenvalues(d, e)?;
    eigs.sort_by(f64::total_cmp);
    Ok(eigs)
}

/// Stage 1: `A ← Qᵀ A Q` of half-bandwidth `b` in the lower triangle of the column-major
/// `n × n` matrix `a` (entries below the band are set to zero; the upper triangle is not
/// read or written).
pub fn to_band(a: &mut [f64], n: usize, b: usize, par: impl Fn(usize) -> Par) {
    let mut v = vec![0.0; n * b];
    let mut w = vec![0.0; n * b];
    let mut y = vec![0.0; n * b];
    let mut pair = vec![0.0; 2 * n * b];
    let mut swapped = vec![0.0; 2 * n * b];
    let mut t = vec![0.0; b * b];
    let mut small = vec![0.0; b * b];
    let mut k = 0;
    while k + b + 1 < n {
        let top = k + b;
        let r = n - top;
        let nb = b.min(r - 1);
        let (v, w) = (&mut v[..r * nb], &mut w[..r * nb]);
        let (t, small) = (&mut t[..nb * nb], &mut small[..nb * nb]);
        panel_qr(a, n, top, k, b, nb, v, t);
        // Y = S V, S the trailing r × r block (lower triangle) at (top, top), then W = Y T
        let s = MatRef::from_column_major_slice(&a[top * n..], n, r).subrows(top, r);
        let vm = MatRef::from_column_major_slice(v, r, nb);
        let par = par(r);
        let y = &mut y[..r * nb];
        for (lhs, structure, accum) in [
            (s, BlockStructure::TriangularLower, Accum::Replace),
            (
                s.transpose(),
                BlockStructure::StrictTriangularUpper,
                Accum::Add,
            ),
        ] {
            matmul::triangular::matmul(
                MatMut::from_column_major_slice_mut(y, r, nb),
                BlockStructure::Rectangular,
                accum,
                lhs,
                structure,
                vm,
                BlockStructure::Rectangular,
                1.0,
                par,
            );
        }
        matmul::triangular::matmul(
            MatMut::from_column_major_slice_mut(w, r, nb),
            BlockStructure::Rectangular,
            Accum::Replace,
            MatRef::from_column_major_slice(y, r, nb),
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
        // lower triangle of S ← S − V Zᵀ − Z Vᵀ = S − [V Z] [Z V]ᵀ, one product of inner
        // dimension 2nb
        let (lhs, rhs) = (&mut pair[..2 * r * nb], &mut swapped[..2 * r * nb]);
        lhs[..r * nb].copy_from_slice(v);
        lhs[r * nb..].copy_from_slice(w);
        rhs[..r * nb].copy_from_slice(w);
        rhs[r * nb..].copy_from_slice(v);
        matmul::triangular::matmul(
            MatMut::from_column_major_slice_mut(&mut a[top * n..], n, r).subrows_mut(top, r),
            BlockStructure::TriangularLower,
            Accum::Add,
            MatRef::from_column_major_slice(lhs, r, 2 * nb),
            BlockStructure::Rectangular,
            MatRef::from_column_major_slice(rhs, r, 2 * nb).transpose(),
            BlockStructure::Rectangular,
            -1.0,
            par,
        );
        k += b;
    }
}

/// Householder QR of the panel `P = a[top.., k..k+b]` (r = n − top rows): reflectors
/// `H_i = I − τ_i v_i v_iᵀ` (`v_i` with a unit at row i, zeros above) into `v` (r × nb), the
/// compact-WY factor `T` into `t`, `R` into the panel's top rows and zeros below it.
#[allow(clippy::too_many_arguments)]
fn panel_qr(
    a: &mut [f64],
    n: usize,
    top: usize,
    k: usize,
    b: usize,
    nb: usize,
    v: &mut [f64],
    t: &mut [f64],
) {
    let r = n - top;
    v.fill(0.0);
    t.fill(0.0);
    let mut taus = vec![0.0; nb];
    for i in 0..nb {
        let col = (k + i) * n + top;
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
        // H_i on the panel's later columns
        for c in i + 1..b {
            let cc = (k + c) * n + top;
            let y = &mut a[cc + i..cc + r];
            let vv = &v[i * r + i..(i + 1) * r];
            let s: f64 = y.iter().zip(vv).map(|(p, q)| p * q).sum();
            let f = tau * s;
            for (p, q) in y.iter_mut().zip(vv) {
                *p -= f * q;
            }
        }
    }
    // T: T_ii = τ_i, T[..i, i] = −τ_i T[..i, ..i] (V[:, ..i]ᵀ v_i)
    let mut z = vec![0.0; nb];
    for i in 0..nb {
        let tau = taus[i];
        t[i * nb + i] = tau;
        if tau == 0.0 {
            continue;
        }
        let vi = &v[i * r..(i + 1) * r];
        for (j, zj) in z.iter_mut().enumerate().take(i) {
            let vj = &v[j * r..(j + 1) * r];
            *zj = vj[i..].iter().zip(&vi[i..]).map(|(p, q)| p * q).sum();
        }
        for row in 0..i {
            let mut acc = 0.0;
            for (l, zl) in z.iter().enumerate().take(i).skip(row) {
                acc += t[l * nb + row] * zl;
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

    /// Stage 2: the diagonal and subdiagonal of the tridiagonal matrix similar to the band.
    pub fn tridiagonalize(mut self) -> (Vec<f64>, Vec<f64>) {
        let (n, b) = (self.n, self.b);
        for j in 0..n.saturating_sub(2) {
            for l in (2..=b.min(n - 1 - j)).rev() {
                // annihilate (j + l, j) by rotating rows/columns (j + l − 1, j + l), then chase
                // the entry each rotation puts outside the band down the matrix
                let (mut p, mut col) = (j + l - 1, j);
                loop {
                    self.rotate(p, col);
                    if p + 1 + b >= n {
                        break;
                    }
                    (col, p) = (p, p + b);
                }
            }
        }
        let d = (0..n).map(|i| self.data[self.at(i, i)]).collect();
        let e = (0..n.saturating_sub(1))
            .map(|i| self.data[self.at(i + 1, i)])
            .collect();
        (d, e)
    }

    /// The rotation of rows and columns `(p, q = p + 1)` that annihilates `(q, col)` against
    /// `(p, col)`, applied to every stored entry of those rows and columns.
    fn rotate(&mut self, p: usize, col: usize) {
        let (n, b) = (self.n, self.b);
        let q = p + 1;
        let (x, y) = (self.data[self.at(p, col)], self.data[self.at(q, col)]);
        if y == 0.0 {
            return;
        }
        let r = pythag(x, y);
        let (c, s) = (x / r, y / r);
        // rows p and q left of p: columns from q − b − 1 on hold entries. Entry (p, k) is
        // stored at p + k·(b + 1) and (q, k) right after it, so the pairs are the first two
        // entries of consecutive runs of b + 1
        let first = q.saturating_sub(b + 1);
        if first < p {
            let start = self.at(p, first);
            debug_assert_eq!(self.at(q, first), start + 1);
            for pair in self.data[start..].chunks_mut(b + 1).take(p - first) {
                let (u, w) = (pair[0], pair[1]);
                pair[0] = c * u + s * w;
                pair[1] = c * w - s * u;
            }
        }
        let (ip, iq) = (self.at(q, col), self.at(p, col));
        self.data[ip] = 0.0;
        self.data[iq] = r;
        // the 2 × 2 block
        let (app, aqp, aqq) = (
            self.data[self.at(p, p)],
            self.data[self.at(q, p)],
            self.data[self.at(q, q)],
        );
        let (cc, ss, cs) = (c * c, s * s, c * s);
        let (ipp, iqp, iqq) = (self.at(p, p), self.at(q, p), self.at(q, q));
        self.data[ipp] = cc * app + 2.0 * cs * aqp + ss * aqq;
        self.data[iqq] = ss * app - 2.0 * cs * aqp + cc * aqq;
        self.data[iqp] = cs * (aqq - app) + (cc - ss) * aqp;
        // columns p and q below q: rows up to q + b (the last one outside the band of p); the
        // two runs are contiguous and column q starts after column p's storage
        let last = (q + b).min(n - 1);
        if last > q {
            let ld = b + 2;
            let (cp, cq) = (p * ld, q * ld);
            let (left, right) = self.data.split_at_mut(cq);
            let len = last - q;
            let up = &mut left[cp + 2..cp + 2 + len];
            let uq = &mut right[1..1 + len];
            for (u, w) in up.iter_mut().zip(uq.iter_mut()) {
                let (x, y) = (*u, *w);
                *u = c * x + s * y;
                *w = c * y - s * x;
            }
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
