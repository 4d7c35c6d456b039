#!/usr/bin/env python3
"""Reference timings for the issue notes: numpy and torch on the shapes `cargo bench --bench
spectrum` measures. Not part of the build, and not run by `make`: numpy, torch and safetensors
are needed only here (`pip install numpy torch safetensors`).

    python3 benches/reference.py numpy               # eigvalsh and A @ A.T
    python3 benches/reference.py resnet OUT.safetensors [N]

`resnet` draws a ResNet20 (widths 16/32/64, 3 blocks per stage, option-A shortcuts, batch norm
with batch statistics, bias-free head, k = 10) and N CIFAR-size images (N = 8), writes them in
the layout `gncond spectrum --arch resnet` reads, and times torch.func.jacrev → J Jᵀ → eigvalsh
in float64 on them. Compare with `time gncond spectrum --arch resnet OUT.safetensors`: the same
κ, and the two times.

The network is written here from the architecture (docs/METHODS.md §2, "Small ResNet").
"""
import sys
import time

import numpy as np


def best_of(f, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[0], times[len(times) // 2]


def numpy_timings():
    rng = np.random.default_rng(0)
    for n in (500, 1000, 1960, 2000, 5000):
        a = rng.standard_normal((n, n))
        s = a + a.T
        lo, med = best_of(lambda: np.linalg.eigvalsh(s), 3 if n == 5000 else 7)
        print(f"numpy eigvalsh n={n}: best {lo:.3f} s, median {med:.3f} s", flush=True)
    for rows, cols in ((200, 269712), (1000, 269712), (2000, 40000)):
        a = rng.standard_normal((rows, cols))
        lo, med = best_of(lambda: a @ a.T, 3)
        print(f"numpy A @ A.T {rows}x{cols}: best {lo:.3f} s, median {med:.3f} s", flush=True)


def resnet_timing(path, n):
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file

    torch.manual_seed(0)
    dt = torch.float64
    widths, blocks, k, side, channels = (16, 32, 64), 3, 10, 32, 3

    def kaiming(shape, gain):
        fan_in = int(np.prod(shape[1:]))
        return torch.randn(shape, dtype=dt) * (gain / np.sqrt(fan_in))

    params = {"conv1.weight": kaiming((16, channels, 3, 3), np.sqrt(2.0))}
    params["bn1.weight"] = 1.0 + 0.1 * torch.randn(16, dtype=dt)
    params["bn1.bias"] = 0.1 * torch.randn(16, dtype=dt)
    c_in = 16
    layout = []
    for stage, w in enumerate(widths, start=1):
        for b in range(blocks):
            stride = 2 if (stage > 1 and b == 0) else 1
            name = f"layer{stage}.{b}"
            params[f"{name}.conv1.weight"] = kaiming((w, c_in, 3, 3), np.sqrt(2.0))
            params[f"{name}.conv2.weight"] = kaiming((w, w, 3, 3), np.sqrt(2.0))
            for bn in ("bn1", "bn2"):
                params[f"{name}.{bn}.weight"] = 1.0 + 0.1 * torch.randn(w, dtype=dt)
                params[f"{name}.{bn}.bias"] = 0.1 * torch.randn(w, dtype=dt)
            layout.append((name, c_in, w, stride))
            c_in = w
    params["linear.weight"] = kaiming((k, c_in), 1.0)
    x = torch.randn(n, channels * side * side, dtype=dt)

    def bn(z, g, b):
        # batch statistics over samples and positions, biased variance, eps = 1e-5
        mean = z.mean(dim=(0, 2, 3), keepdim=True)
        var = z.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        return (z - mean) / torch.sqrt(var + 1e-5) * g.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)

    def shortcut(z, c_out, stride):
        if stride == 1 and z.shape[1] == c_out:
            return z
        z = z[:, :, ::stride, ::stride]
        extra = c_out - z.shape[1]
        return F.pad(z, (0, 0, 0, 0, extra // 2, extra - extra // 2))

    def net(p):
        z = x.view(n, channels, side, side)
        z = F.relu(bn(F.conv2d(z, p["conv1.weight"], padding=1), p["bn1.weight"], p["bn1.bias"]))
        for name, _, c_out, stride in layout:
            h = F.conv2d(z, p[f"{name}.conv1.weight"], stride=stride, padding=1)
            h = F.relu(bn(h, p[f"{name}.bn1.weight"], p[f"{name}.bn1.bias"]))
            h = F.conv2d(h, p[f"{name}.conv2.weight"], padding=1)
            h = bn(h, p[f"{name}.bn2.weight"], p[f"{name}.bn2.bias"])
            z = F.relu(h + shortcut(z, c_out, stride))
        z = z.mean(dim=(2, 3))
        return (z @ p["linear.weight"].T).reshape(-1)

    tensors = {name: t.contiguous() for name, t in params.items()}
    tensors["X"] = x.contiguous()
    save_file(tensors, path)

    def spectrum():
        jac = torch.func.jacrev(net)(params)
        j = torch.cat([jac[name].reshape(n * k, -1) for name in params], dim=1)
        return torch.linalg.eigvalsh(j @ j.T)

    spectrum()  # warm-up
    lo, med = best_of(spectrum, 3)
    ev = spectrum()
    tol = ev.max() * ev.shape[0] * torch.finfo(dt).eps
    nonzero = ev[ev > tol]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, n = {n}, "
          f"p = {sum(t.numel() for t in params.values())}")
    print(f"torch jacrev -> J J^T -> eigvalsh: best {lo:.3f} s, median {med:.3f} s")
    print(f"kappa = {float(nonzero.max() / nonzero.min()):.10e} (rank {nonzero.numel()})")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "numpy":
        numpy_timings()
    elif len(sys.argv) >= 3 and sys.argv[1] == "resnet":
        resnet_timing(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 8)
    else:
        sys.exit(__doc__)
