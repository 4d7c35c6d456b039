//! `gncond spectrum` on safetensors files written here the way PyTorch's `state_dict` of a
//! bias-free `nn.Sequential` lays them out: same κ as the in-crate path, clear errors.

use gncond::data::SecondMoment;
use gncond::gn;
use gncond::nets::{DeepLinear, TwoLayer};
use gncond::seed::{normal, point_rng, PointRng};
use nalgebra::DMatrix;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_gncond");

fn rng(i: u64) -> PointRng {
    point_rng(13, "spectrum-cli", &[], i)
}

fn gaussian(rows: usize, cols: usize, r: &mut PointRng) -> DMatrix<f64> {
    DMatrix::from_fn(rows, cols, |_, _| normal(r))
}

/// Row-major little-endian bytes of a matrix, as f64 or f32.
fn bytes(m: &DMatrix<f64>, f32s: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            if f32s {
                out.extend_from_slice(&(m[(i, j)] as f32).to_le_bytes());
            } else {
                out.extend_from_slice(&m[(i, j)].to_le_bytes());
            }
        }
    }
    out
}

/// Write tensors (name, matrix) to a safetensors file.
fn write(path: &Path, tensors: &[(&str, &DMatrix<f64>)], f32s: bool) {
    let data: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, m)| (n.to_string(), bytes(m, f32s), vec![m.nrows(), m.ncols()]))
        .collect();
    write_raw(path, data, f32s);
}

/// Write tensors of any shape given as (name, row-major bytes, shape).
fn write_raw(path: &Path, data: Vec<(String, Vec<u8>, Vec<usize>)>, f32s: bool) {
    let dtype = if f32s { Dtype::F32 } else { Dtype::F64 };
    let views: Vec<(String, TensorView)> = data
        .iter()
        .map(|(n, b, s)| (n.clone(), TensorView::new(dtype, s.clone(), b).unwrap()))
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs())
}

#[test]
fn linear_and_residual_match_the_in_crate_path() {
    let tmp = tempfile::tempdir().unwrap();
    let mut r = rng(0);
    let (d, n) = (6, 20);
    let x = gaussian(d, n, &mut r);
    let net = DeepLinear::kaiming(&[d, 8, 7, 3], &mut r);
    let xt = x.transpose();
    let file = tmp.path().join("linear.safetensors");
    write(
        &file,
        &[
            ("0.weight", &net.weights[0]),
            ("1.weight", &net.weights[1]),
            ("2.weight", &net.weights[2]),
            ("X", &xt),
        ],
        false,
    );
    let moment = SecondMoment::of(&x).unwrap();
    for (arch, beta) in [("linear", 0.0), ("residual", 0.5)] {
        let mut args = vec!["spectrum", file.to_str().unwrap(), "--arch", arch, "--json"];
        let b = beta.to_string();
        if arch == "residual" {
            args.extend(["--beta", &b]);
        }
        let out = json(&run(&args));
        let want = gn::kronecker_linear(&net.residual(beta).partial_products(), &moment).unwrap();
        let kappa = out["kappa"].as_f64().unwrap();
        assert!(
            rel(kappa, want.spectrum.kappa) < 1e-12,
            "{arch}: {kappa} vs {}",
            want.spectrum.kappa
        );
        assert_eq!(out["rank"].as_u64().unwrap() as usize, want.spectrum.rank);
        assert_eq!(out["route"], "kronecker-eig");
        // and against the explicit Jacobian, independently of the Kronecker route
        let dense = gn::dense_jtj(&net.residual(beta).jacobian(&x), n).unwrap();
        assert!(rel(kappa, dense.spectrum.kappa) < 1e-9, "{arch}");
        for key in ["lambda_max", "lambda_min_nonzero", "b_loose"] {
            assert!(out.get(key).is_some(), "{arch}: missing {key}");
        }
        let bound_key = if arch == "linear" {
            "b_convex"
        } else {
            "b_residual"
        };
        assert!(out[bound_key].as_f64().unwrap() >= kappa * (1.0 - 1e-9));
    }
}

#[test]
fn relu_from_f32_matches_the_in_crate_path() {
    let tmp = tempfile::tempdir().unwrap();
    let mut r = rng(1);
    let (d, m, k, n) = (5, 9, 3, 4);
    // f32 in the file: compare with the same numbers rounded to f32
    let round = |a: DMatrix<f64>| a.map(|v| v as f32 as f64);
    let x = round(gaussian(d, n, &mut r));
    let net = TwoLayer::kaiming(d, m, k, 0.1, &mut r);
    let net = TwoLayer {
        v: round(net.v),
        w: round(net.w),
        alpha: 0.1,
    };
    let file = tmp.path().join("relu.safetensors");
    write(
        &file,
        &[
            ("0.weight", &net.v),
            ("2.weight", &net.w),
            ("X", &x.transpose()),
        ],
        true,
    );
    let out = json(&run(&[
        "spectrum",
        file.to_str().unwrap(),
        "--arch",
        "relu",
        "--alpha",
        "0.1",
        "--json",
    ]));
    let want = gn::two_layer(&net, &x).unwrap();
    assert!(rel(out["kappa"].as_f64().unwrap(), want.spectrum.kappa) < 1e-12);
    assert_eq!(out["route"], "gram-eig");
    assert!(out["b_relu"].as_f64().unwrap() >= want.spectrum.kappa * (1.0 - 1e-9));
    assert!(out["b_relu_linear_style_invalid_note"]
        .as_str()
        .unwrap()
        .contains("NOT"));
}

#[test]
fn bad_files_are_one_line_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let mut r = rng(2);
    let x = gaussian(4, 6, &mut r).transpose();
    let w0 = gaussian(5, 4, &mut r);
    let w1 = gaussian(2, 5, &mut r);
    let wrong = gaussian(2, 3, &mut r);
    let mut nan = w1.clone();
    nan[(1, 2)] = f64::NAN;
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a DMatrix<f64>)>,
        Vec<&'a str>,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "missing",
            vec![("0.weight", &w0), ("1.weight", &w1)],
            vec!["--arch", "linear"],
            "tensor 'X' is missing",
        ),
        (
            "shape",
            vec![("0.weight", &w0), ("1.weight", &wrong), ("X", &x)],
            vec!["--arch", "linear"],
            "layer 2 is 2×3",
        ),
        (
            "nan",
            vec![("0.weight", &w0), ("1.weight", &nan), ("X", &x)],
            vec!["--arch", "linear"],
            "'1.weight' holds a NaN or infinity at [1, 2]",
        ),
        (
            "relu",
            vec![("0.weight", &w0), ("X", &x)],
            vec!["--arch", "relu"],
            "tensor '2.weight' is missing",
        ),
        (
            "beta",
            vec![("0.weight", &w0), ("1.weight", &w1), ("X", &x)],
            vec!["--arch", "residual"],
            "needs a finite --beta",
        ),
    ];
    for (name, tensors, flags, needle) in cases {
        let file = tmp.path().join(format!("{name}.safetensors"));
        write(&file, &tensors, false);
        let mut args = vec!["spectrum", file.to_str().unwrap()];
        args.extend(flags);
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(err.contains(needle), "{name}: {err}");
    }
    let junk = tmp.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file").unwrap();
    let o = run(&["spectrum", junk.to_str().unwrap(), "--arch", "linear"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a safetensors file"));
}

fn f64_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn cnn_and_batchnorm_match_the_in_crate_path() {
    let tmp = tempfile::tempdir().unwrap();
    let mut r = rng(3);
    let (d, n, k) = (12, 6, 2);
    let x = gaussian(d, n, &mut r);
    let xt = x.transpose();
    let net = gncond::nets::LinearCnn::kaiming(d, 3, 4, 1, k, &mut r).unwrap();
    let mut data: Vec<(String, Vec<u8>, Vec<usize>)> = net
        .convs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                format!("{i}.weight"),
                f64_bytes(&c.w),
                vec![c.out, c.inp, c.ks],
            )
        })
        .collect();
    data.push((
        "3.weight".into(),
        bytes(&net.head, false),
        vec![net.head.nrows(), net.head.ncols()],
    ));
    data.push(("X".into(), bytes(&xt, false), vec![n, d]));
    let file = tmp.path().join("cnn.safetensors");
    write_raw(&file, data, false);
    let out = json(&run(&[
        "spectrum",
        file.to_str().unwrap(),
        "--arch",
        "cnn",
        "--json",
    ]));
    let want = gn::cnn_filters(&net, &x).unwrap();
    assert!(rel(out["kappa"].as_f64().unwrap(), want.spectrum.kappa) < 1e-12);
    assert!(out["kappa_toeplitz_surrogate"].as_f64().is_some());

    let bn = gncond::nets::BatchNormNet::kaiming(d, 5, k, &mut r);
    let data = vec![
        ("0.weight".to_string(), bytes(&bn.w1, false), vec![5, d]),
        (
            "1.weight".to_string(),
            f64_bytes(bn.gamma.as_slice()),
            vec![5],
        ),
        ("1.bias".to_string(), f64_bytes(bn.beta.as_slice()), vec![5]),
        ("2.weight".to_string(), bytes(&bn.w2, false), vec![k, 5]),
        ("X".to_string(), bytes(&xt, false), vec![n, d]),
    ];
    let file = tmp.path().join("bn.safetensors");
    write_raw(&file, data, false);
    let out = json(&run(&[
        "spectrum",
        file.to_str().unwrap(),
        "--arch",
        "batchnorm",
        "--json",
    ]));
    let want = gn::batchnorm(&bn, &x).unwrap();
    assert!(rel(out["kappa"].as_f64().unwrap(), want.spectrum.kappa) < 1e-12);
    assert_eq!(out["rank"].as_u64().unwrap() as usize, want.spectrum.rank);
}

#[test]
fn resnet_matches_the_in_crate_path_and_names_a_bad_tensor() {
    use gncond::nets::{BnMode, ResNet, ResNetSpec};
    let tmp = tempfile::tempdir().unwrap();
    let mut r = rng(4);
    let spec = ResNetSpec {
        channels: 1,
        height: 5,
        width: 5,
        base_width: 2,
        blocks_per_stage: 1,
        classes: 2,
    };
    let net = ResNet::kaiming(spec, &mut r);
    let n = 3;
    let x = gaussian(spec.input_dim(), n, &mut r);
    let tensors = |net: &ResNet| -> Vec<(String, Vec<u8>, Vec<usize>)> {
        let mut data: Vec<_> = net
            .tensors
            .iter()
            .map(|t| {
                (
                    t.name.clone(),
                    f64_bytes(&net.theta[t.range()]),
                    t.shape.clone(),
                )
            })
            .collect();
        data.push((
            "X".into(),
            bytes(&x.transpose(), false),
            vec![n, spec.input_dim()],
        ));
        data
    };
    let file = tmp.path().join("resnet.safetensors");
    write_raw(&file, tensors(&net), false);
    let out = json(&run(&[
        "spectrum",
        file.to_str().unwrap(),
        "--arch",
        "resnet",
        "--json",
    ]));
    let want = gn::resnet(&net, &x, BnMode::Batch).unwrap();
    assert!(rel(out["kappa"].as_f64().unwrap(), want.spectrum.kappa) < 1e-12);
    assert_eq!(out["p"].as_u64().unwrap() as usize, net.num_params());
    assert_eq!(out["blocks_per_stage"].as_u64(), Some(1));

    // a wrong shape is named
    let mut data = tensors(&net);
    let bad = data
        .iter_mut()
        .find(|(name, _, _)| name == "layer2.0.conv2.weight")
        .unwrap();
    bad.2 = vec![4, 4, 9, 1];
    write_raw(&file, data, false);
    let o = run(&["spectrum", file.to_str().unwrap(), "--arch", "resnet"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("'layer2.0.conv2.weight' has shape [4, 4, 9, 1], expected [4, 4, 3, 3]"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// The Gauss-Newton matrix of `W σ(V x)` (σ the leaky ReLU of slope α) built by hand: the
/// stacked Jacobian J (nk × p, sample-major) from its formula, ∂f_a/∂W_{aj} = σ(v_j·x) and
/// ∂f_a/∂V_{jc} = W_{aj} σ'(v_j·x) x_c; κ is that of J Jᵀ over its eigenvalues above the
/// rank threshold.
fn relu_kappa_by_hand(v: &DMatrix<f64>, w: &DMatrix<f64>, x: &DMatrix<f64>, alpha: f64) -> f64 {
    let (m, d) = v.shape();
    let (k, n) = (w.nrows(), x.ncols());
    let p = m * d + k * m;
    let mut j = DMatrix::<f64>::zeros(n * k, p);
    for i in 0..n {
        let z = v * x.column(i);
        for a in 0..k {
            let row = i * k + a;
            for h in 0..m {
                let slope = if z[h] > 0.0 { 1.0 } else { alpha };
                for c in 0..d {
                    // V is flattened row-major first, then W
                    j[(row, h * d + c)] = w[(a, h)] * slope * x[(c, i)];
                }
                j[(row, m * d + a * m + h)] = slope * z[h];
            }
        }
    }
    let g = &j * j.transpose();
    let mut eigs: Vec<f64> = g.symmetric_eigenvalues().iter().copied().collect();
    eigs.sort_by(|a, b| b.total_cmp(a));
    let threshold = eigs[0] * eigs.len() as f64 * f64::EPSILON;
    let smallest = eigs
        .iter()
        .copied()
        .filter(|&e| e > threshold)
        .fold(f64::INFINITY, f64::min);
    eigs[0] / smallest
}

#[test]
fn a_relu_file_under_arch_relu_gives_the_kappa_of_its_hand_built_gram() {
    let tmp = tempfile::tempdir().unwrap();
    let mut r = rng(17);
    let (d, m, k, n) = (5, 8, 3, 6);
    let v = gaussian(m, d, &mut r);
    let w = gaussian(k, m, &mut r);
    let x = gaussian(d, n, &mut r);
    let file = tmp.path().join("relu.safetensors");
    write(
        &file,
        &[("0.weight", &v), ("2.weight", &w), ("X", &x.transpose())],
        false,
    );
    for alpha in [0.0, 0.3] {
        let a = alpha.to_string();
        let out = json(&run(&[
            "spectrum",
            file.to_str().unwrap(),
            "--arch",
            "relu",
            "--alpha",
            &a,
            "--json",
        ]));
        let kappa = out["kappa"].as_f64().unwrap();
        let want = relu_kappa_by_hand(&v, &w, &x, alpha);
        assert!(rel(kappa, want) < 1e-9, "α = {alpha}: {kappa} vs {want}");
    }
    // the same file under --arch linear is refused, not read as a one-layer network
    let o = run(&["spectrum", file.to_str().unwrap(), "--arch", "linear"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("try --arch relu"));
}

#[test]
fn every_infinite_bound_says_why_for_this_network() {
    let tmp = tempfile::tempdir().unwrap();
    let mut r = rng(23);
    // a hidden width (3) below max(d, k) = 5: B-convex and B-loose are infinite, and say so
    let (d, n) = (5, 12);
    let x = gaussian(d, n, &mut r);
    let net = DeepLinear::kaiming(&[d, 3, 4], &mut r);
    let file = tmp.path().join("narrow.safetensors");
    write(
        &file,
        &[
            ("0.weight", &net.weights[0]),
            ("1.weight", &net.weights[1]),
            ("X", &x.transpose()),
        ],
        false,
    );
    let out = json(&run(&[
        "spectrum",
        file.to_str().unwrap(),
        "--arch",
        "linear",
        "--json",
    ]));
    for b in ["b_convex", "b_loose"] {
        assert_eq!(out[b], "inf");
        let note = out[format!("{b}_note")].as_str().unwrap();
        assert_eq!(
            note, "infinite: hidden width 3 is below max(d, k) = 5",
            "{b}"
        );
    }
    // wide enough: a finite, guaranteed bound
    let net = DeepLinear::kaiming(&[d, 7, 4], &mut r);
    write(
        &file,
        &[
            ("0.weight", &net.weights[0]),
            ("1.weight", &net.weights[1]),
            ("X", &x.transpose()),
        ],
        false,
    );
    let out = json(&run(&[
        "spectrum",
        file.to_str().unwrap(),
        "--arch",
        "linear",
        "--json",
    ]));
    assert!(out["b_convex"].as_f64().unwrap().is_finite());
    assert_eq!(out["b_convex_note"], "guaranteed upper bound on κ(G_O)");
    // ReLU with α = 0, n > d and m < n: both blocks singular, named with this network's sizes
    let v = gaussian(4, d, &mut r);
    let w = gaussian(3, 4, &mut r);
    let file = tmp.path().join("relu.safetensors");
    write(
        &file,
        &[("0.weight", &v), ("2.weight", &w), ("X", &x.transpose())],
        false,
    );
    let out = json(&run(&[
        "spectrum",
        file.to_str().unwrap(),
        "--arch",
        "relu",
        "--json",
    ]));
    assert_eq!(out["b_relu"], "inf");
    assert_eq!(
        out["b_relu_note"],
        "infinite: α = 0 removes the XᵀX block, and m = 4 < n = 12 makes F Fᵀ singular"
    );
    let text = run(&[
        "spectrum",
        file.to_str().unwrap(),
        "--arch",
        "relu",
        "--alpha",
        "0.5",
    ]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains(
            "infinite: n = 12 > d = 5 makes XᵀX singular, and m = 4 < n = 12 makes F Fᵀ singular"
        ),
        "{text}"
    );
}
