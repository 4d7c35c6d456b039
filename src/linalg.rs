//! The one door to dense kernels. Matrices cross the crate in nalgebra; products, SVDs, QR and
//! small symmetric eigensolves run in faer, large symmetric eigensolves in our two-stage solver
//! (`symeig`, on faer's products).
//!
//! Parallelism: a kernel on a matrix of order at least [`PAR_MIN_ORDER`] runs split into
//! [`PAR_WAYS`] parts on the current rayon pool, smaller ones sequentially. faer partitions
//! the work by the number of parts it is given, not by the threads that run them, and adds the
//! parts in a fixed order, so every result is a function of these two constants only: the same
//! bits on one core or sixteen, at any `--jobs` (checked in `tests/determinism.rs`).
//!
//! Rank rule: a singular value counts as nonzero when `s > s_max · N · ε`, an eigenvalue of a
//! positive semi-definite matrix when `λ > λ_max · N · ε` (N the matrix order, ε machine
//! epsilon). The threshold scales with the matrix, never an absolute 1e-7.

use crate::{Error, Result};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::{evd, matmul, qr, svd};
use faer::{Accum, Mat, MatRef, Par};
use nalgebra::DMatrix;

/// Parts a large kernel is split into, whatever the machine's core count.
pub const PAR_WAYS: usize = 8;

/// Smallest matrix order (or product dimension) that is split; smaller kernels run in one part.
pub const PAR_MIN_ORDER: usize = 192;

/// The parallelism for a kernel whose largest dimension is `order`.
pub fn par_for(order: usize) -> Par {
    if order >= PAR_MIN_ORDER {
        Par::rayon(PAR_WAYS)
    } else {
        Par::Seq
    }
}

/// A thin SVD `A = U diag(s) Vᵀ` with singular values in decreasing order.
#[derive(Debug, Clone)]
pub struct ThinSvd {
    pub u: DMatrix<f64>,
    pub s: Vec<f64>,
    pub v: DMatrix<f64>,
}

/// nalgebra stores column-major and contiguously, so faer reads it in place.
fn view(a: &DMatrix<f64>) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(a.as_slice(), a.nrows(), a.ncols())
}

fn from_faer(a: MatRef<'_, f64>) -> DMatrix<f64> {
    DMatrix::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)])
}

fn check_finite(a: &DMatrix<f64>, what: &str) -> Result<()> {
    if a.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::Numerics(format!(
            "{what}: the matrix holds a NaN or infinity"
        )))
    }
}

/// The product `A B`.
pub fn matmul(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    product(view(a), view(b))
}

/// The product `Aᵀ B` (A not copied).
pub fn matmul_tn(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    product(view(a).transpose(), view(b))
}

/// The product `A Bᵀ` (B not copied).
pub fn matmul_nt(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    product(view(a), view(b).transpose())
}

fn product(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> DMatrix<f64> {
    assert_eq!(a.ncols(), b.nrows(), "matrix product: inner dimensions");
    let (rows, cols) = (a.nrows(), b.ncols());
    let mut c = DMatrix::zeros(rows, cols);
    let order = rows.max(a.ncols()).max(cols);
    let dst = faer::MatMut::from_column_major_slice_mut(c.as_mut_slice(), rows, cols);
    matmul::matmul(dst, Accum::Replace, a, b, 1.0, par_for(order));
    c
}

/// A column-major matrix held in a slice (`rows × cols`), read as itself or, after
/// [`Slab::t`], as its transpose.
#[derive(Debug, Clone, Copy)]
pub struct Slab<'a> {
    data: &'a [f64],
    rows: usize,
    cols: usize,
    transposed: bool,
}

impl<'a> Slab<'a> {
    /// The `rows × cols` matrix whose column j is `data[j·rows..(j+1)·rows]`.
    pub fn new(data: &'a [f64], rows: usize, cols: usize) -> Slab<'a> {
        assert_eq!(data.len(), rows * cols, "slab shape");
        Slab {
            data,
            rows,
            cols,
            transposed: false,
        }
    }

    /// The same matrix read transposed (no copy).
    pub fn t(self) -> Slab<'a> {
        Slab {
            transposed: !self.transposed,
            ..self
        }
    }

    fn shape(&self) -> (usize, usize) {
        if self.transposed {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    fn view(&self) -> MatRef<'a, f64> {
        let m = MatRef::from_column_major_slice(self.data, self.rows, self.cols);
        if self.transposed {
            m.transpose()
        } else {
            m
        }
    }
}

/// `C ← A B` (or `C ← C + A B` when `accumulate`) on column-major slices, `C` of shape
/// `rows × cols`, in one part: the kernel inside a loop that is itself split (one sample's
/// convolution), so its bits never depend on the threads either.
pub fn gemm_seq(dst: &mut [f64], rows: usize, cols: usize, a: Slab, b: Slab, accumulate: bool) {
    let ((ar, ac), (br, bc)) = (a.shape(), b.shape());
    assert!(
        ar == rows && bc == cols && ac == br && dst.len() == rows * cols,
        "gemm_seq: shapes {ar}×{ac} · {br}×{bc} into {rows}×{cols}"
    );
    let c = faer::MatMut::from_column_major_slice_mut(dst, rows, cols);
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    matmul::matmul(c, accum, a.view(), b.view(), 1.0, Par::Seq);
}

/// The Gram matrix `A Aᵀ` (both triangles).
pub fn gram_rows(a: &DMatrix<f64>) -> DMatrix<f64> {
    gram_of(view(a))
}

/// The Gram matrix `AᵀA` (both triangles), without copying A.
pub fn gram_cols(a: &DMatrix<f64>) -> DMatrix<f64> {
    gram_of(view(a).transpose())
}

/// `M Mᵀ`: the lower triangle by a triangular product (half the work of a full GEMM), then
/// mirrored, so the result is exactly symmetric.
fn gram_of(a: MatRef<'_, f64>) -> DMatrix<f64> {
    let n = a.nrows();
    let mut c = DMatrix::zeros(n, n);
    lower_gram(&mut c, a, Accum::Replace);
    mirror_lower(&mut c);
    c
}

/// `G ← G + AᵀA` in the lower triangle of the square `G` (the upper triangle is neither read
/// nor written): a sum of Gram matrices of column blocks, `Σ_s J_sᵀ J_s`, accumulated in place
/// without a temporary of the order of G. Finish with [`mirror_lower`].
pub fn add_gram_cols_lower(g: &mut DMatrix<f64>, a: &DMatrix<f64>) {
    assert!(
        g.is_square() && g.nrows() == a.ncols(),
        "Gram accumulation: G of order {}×{} for A with {} columns",
        g.nrows(),
        g.ncols(),
        a.ncols()
    );
    lower_gram(g, view(a).transpose(), Accum::Add);
}

/// The lower triangle of `C` replaced by, or added to, that of `M Mᵀ`.
fn lower_gram(c: &mut DMatrix<f64>, m: MatRef<'_, f64>, accum: Accum) {
    use matmul::triangular::BlockStructure;
    let n = m.nrows();
    let order = n.max(m.ncols());
    let dst = faer::MatMut::from_column_major_slice_mut(c.as_mut_slice(), n, n);
    matmul::triangular::matmul(
        dst,
        BlockStructure::TriangularLower,
        accum,
        m,
        BlockStructure::Rectangular,
        m.transpose(),
        BlockStructure::Rectangular,
        1.0,
        par_for(order),
    );
}

/// The upper triangle of the square `C` set from its lower triangle.
pub fn mirror_lower(c: &mut DMatrix<f64>) {
    let n = c.nrows();
    for j in 0..n {
        for i in 0..j {
            c[(i, j)] = c[(j, i)];
        }
    }
}

/// Matrix order from which symmetric eigenvalues take the two-stage solver of
/// [`crate::symeig`]; below it faer's solver is faster (its band stage's products are too
/// small to pay off; `cargo bench --bench spectrum -- eigensolve`).
pub const TWO_STAGE_MIN_ORDER: usize = 1400;

/// Eigenvalues of a symmetric matrix in increasing order (only the lower triangle is read):
/// faer's solver below [`TWO_STAGE_MIN_ORDER`], the two-stage reduction of [`crate::symeig`]
/// from it on; either way with the fixed split of every kernel here, so the bits are a
/// function of the matrix alone.
pub fn sym_eigenvalues(a: &DMatrix<f64>) -> Result<Vec<f64>> {
    check_finite(a, "symmetric eigensolve")?;
    let n = a.nrows();
    assert_eq!(n, a.ncols(), "symmetric eigensolve: square matrix");
    if n >= TWO_STAGE_MIN_ORDER {
        let mut work = a.as_slice().to_vec();
        return crate::symeig::eigenvalues(&mut work, n, par_for);
    }
    faer_sym_eigenvalues(a)
}

/// faer's symmetric eigenvalues (increasing; lower triangle read), split as every kernel here:
/// the route below [`TWO_STAGE_MIN_ORDER`], and the reference the two-stage solver is tested
/// and benchmarked against.
pub fn faer_sym_eigenvalues(a: &DMatrix<f64>) -> Result<Vec<f64>> {
    let n = a.nrows();
    let par = par_for(n);
    let no = evd::ComputeEigenvectors::No;
    let mut mem = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        n,
        no,
        par,
        Default::default(),
    ));
    let mut s = faer::diag::Diag::<f64>::zeros(n);
    evd::self_adjoint_evd(
        view(a),
        s.as_mut(),
        None,
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| Error::Numerics(format!("symmetric eigensolve did not converge: {e:?}")))?;
    Ok(s.column_vector().iter().copied().collect())
}

/// Thin singular vectors `(U, V)`.
type Vectors = (Mat<f64>, Mat<f64>);

/// Singular values (and, if asked, thin singular vectors) of `a`.
fn svd_of(a: &DMatrix<f64>, vectors: bool) -> Result<(Vec<f64>, Option<Vectors>)> {
    let (m, n) = (a.nrows(), a.ncols());
    let size = m.min(n);
    let par = par_for(m.max(n));
    let want = if vectors {
        svd::ComputeSvdVectors::Thin
    } else {
        svd::ComputeSvdVectors::No
    };
    let mut mem = MemBuffer::new(svd::svd_scratch::<f64>(
        m,
        n,
        want,
        want,
        par,
        Default::default(),
    ));
    let mut s = faer::diag::Diag::<f64>::zeros(size);
    let (mut u, mut v) = if vectors {
        (Mat::zeros(m, size), Mat::zeros(n, size))
    } else {
        (Mat::zeros(0, 0), Mat::zeros(0, 0))
    };
    svd::svd(
        view(a),
        s.as_mut(),
        vectors.then(|| u.as_mut()),
        vectors.then(|| v.as_mut()),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| Error::Numerics(format!("SVD did not converge: {e:?}")))?;
    let s = s.column_vector().iter().copied().collect();
    Ok((s, vectors.then_some((u, v))))
}

/// Singular values in decreasing order.
pub fn singular_values(a: &DMatrix<f64>) -> Result<Vec<f64>> {
    check_finite(a, "singular values")?;
    if a.nrows() == 0 || a.ncols() == 0 {
        return Ok(Vec::new());
    }
    // the first and last partial products of a network are identities: no SVD (the same
    // values, exactly 1, that the SVD returns for them)
    if a.is_identity(0.0) {
        return Ok(vec![1.0; a.nrows()]);
    }
    Ok(svd_of(a, false)?.0)
}

/// Thin SVD with vectors.
pub fn thin_svd(a: &DMatrix<f64>) -> Result<ThinSvd> {
    check_finite(a, "thin SVD")?;
    let (s, vectors) = svd_of(a, true)?;
    let (u, v) = vectors.expect("vectors were asked for");
    Ok(ThinSvd {
        u: from_faer(u.as_ref()),
        s,
        v: from_faer(v.as_ref()),
    })
}

/// The triangular factor R of a thin QR decomposition `A = Q R` (min(rows, cols) × cols),
/// so that `RᵀR = AᵀA` without squaring A's condition number.
pub fn qr_r(a: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    check_finite(a, "QR")?;
    let (m, n) = (a.nrows(), a.ncols());
    let size = m.min(n);
    let par = par_for(m.max(n));
    let block = qr::no_pivoting::factor::recommended_block_size::<f64>(m, n);
    let mut work = Mat::<f64>::zeros(m, n);
    work.copy_from(view(a));
    let mut h = Mat::<f64>::zeros(block, size);
    let mut mem = MemBuffer::new(qr::no_pivoting::factor::qr_in_place_scratch::<f64>(
        m,
        n,
        block,
        par,
        Default::default(),
    ));
    qr::no_pivoting::factor::qr_in_place(
        work.as_mut(),
        h.as_mut(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    );
    // R is the upper triangle of the first min(rows, cols) rows
    Ok(DMatrix::from_fn(size, n, |i, j| {
        if j >= i {
            work[(i, j)]
        } else {
            0.0
        }
    }))
}

/// Number of singular values (any order) above `s_max · order · ε`.
pub fn numerical_rank_sv(s: &[f64], order: usize) -> usize {
    let smax = s.iter().copied().fold(0.0, f64::max);
    let tol = smax * order as f64 * f64::EPSILON;
    s.iter().filter(|&&v| v > tol).count()
}

/// The nonzero part of a positive semi-definite spectrum, as the paper's κ needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spectrum {
    pub lambda_max: f64,
    /// Smallest eigenvalue above the rank threshold, λ_min⁺.
    pub lambda_min_nonzero: f64,
    /// κ = λ_max / λ_min⁺ (∞ for the zero matrix).
    pub kappa: f64,
    /// Number of eigenvalues above the threshold.
    pub rank: usize,
    /// The threshold `λ_max · N · ε` that separated zero from nonzero.
    pub threshold: f64,
}

impl Spectrum {
    /// The spectrum of `ZᵀZ` from the singular values of `Z` (order = max(rows, cols) of Z):
    /// eigenvalues are the squared singular values; the rank rule is applied to the singular
    /// values, `s > s_max · order · ε`, which keeps λ_min⁺ accurate far beyond κ ≈ 1e10.
    pub fn from_singular_values(s: &[f64], order: usize) -> Spectrum {
        let smax = s.iter().copied().fold(0.0, f64::max);
        let tol = smax * order as f64 * f64::EPSILON;
        let nonzero: Vec<f64> = s.iter().copied().filter(|&v| v > tol).collect();
        let smin = nonzero.iter().copied().fold(f64::INFINITY, f64::min);
        let rank = nonzero.len();
        Spectrum {
            lambda_max: smax * smax,
            lambda_min_nonzero: if rank == 0 { 0.0 } else { smin * smin },
            kappa: if rank == 0 {
                f64::INFINITY
            } else {
                (smax / smin).powi(2)
            },
            rank,
            threshold: tol * tol,
        }
    }

    /// Not computed (written as NaN, rank 0): a quantity that does not exist for this point.
    pub fn undefined() -> Spectrum {
        Spectrum {
            lambda_max: f64::NAN,
            lambda_min_nonzero: f64::NAN,
            kappa: f64::NAN,
            rank: 0,
            threshold: f64::NAN,
        }
    }

    /// Apply the rank rule to the eigenvalues of a PSD matrix of order `order`.
    pub fn from_eigenvalues(eigs: &[f64], order: usize) -> Spectrum {
        let lambda_max = eigs.iter().copied().fold(0.0, f64::max);
        let threshold = lambda_max * order as f64 * f64::EPSILON;
        let nonzero = eigs.iter().copied().filter(|&v| v > threshold);
        let (rank, lambda_min_nonzero) =
            nonzero.fold((0, f64::INFINITY), |(r, m), v| (r + 1, m.min(v)));
        let kappa = if rank == 0 {
            f64::INFINITY
        } else {
            lambda_max / lambda_min_nonzero
        };
        Spectrum {
            lambda_max,
            lambda_min_nonzero: if rank == 0 { 0.0 } else { lambda_min_nonzero },
            kappa,
            rank,
            threshold,
        }
    }
}
