#!/usr/bin/env python3
"""Which run printed the authors' stored depth means of their residual notebook.

Not part of the build and not run by `make`; needs torch (`pip install torch`).

    python3 contrib/authors-check/residual_depth.py [data/published-values.csv]

The rows of `data/published-values.csv` from "Outer-product Hessian at initialization - linear
NN w skip connections.ipynb", cells 20 to 23 (d = 5, k = 6, m = 20, 0 to 5 extra hidden layers
of width m, Kaiming normal weights, Gaussian data with n = 10 000 and Σ ≈ I), are means over
initialisations of κ of the Gauss-Newton matrix and of a B-convex-type bound, without and with
skip connections (every layer W + βI, the identity rectangular on the first and last layer).
The saved computing cell sets rep = 100 and β = 20; its printed outputs carry other execution
counts. Random draws cannot be reproduced across generators, but torch's can: this script
draws in the order of that cell (the data from the seed, then per depth and per draw the input,
output and hidden weight matrices, each N(0, 1/fan_in)) and prints, for rep = 2, 100 and 1000
and β = 20 and 1/√(L + 2), the six means of each row group beside the stored ones, and which
(rep, β) reproduces each group to 1e-12 relative. gncond uses the answer as the configuration
of those rows (docs/METHODS.md §6.2). Written from that description, not from their code.

Quantities, for weights W_1 (m×d), W_2..W_{L+1} (m×m), W_{L+2} (k×m), all shifted by βI:
  A_j = W_{L+2}···W_{j+1} (k×·), B_j = W_{j-1}···W_1 (·×d), U = Σ_j A_jA_jᵀ ⊗ B_jᵀB_j;
  κ = torch.linalg.cond(U (I_k ⊗ Σ)) (as printed there: singular values of the product);
  bound = κ(Σ) · Σ_j λ_max(A_jA_jᵀ)λ_max(B_jᵀB_j) / Σ_j λ_min(A_jA_jᵀ)λ_min(B_jᵀB_j).
"""
import csv
import math
import sys

import torch

D, M, K, N_DATA, SEED = 5, 20, 6, 10_000, 314159265
DEPTHS = range(6)
SOURCE = "linear NN w skip connections.ipynb, cell "
# cell -> (quantity, skip)
CELLS = {20: ("kappa", False), 21: ("bound", False), 22: ("kappa", True), 23: ("bound", True)}


def chain(mats, rows):
    out = torch.eye(rows)
    for w in mats:
        out = out @ w
    return out


def quantities(ws, sigma, cond_sigma):
    """κ and the bound for the weight list ws = [W_1, ..., W_{L+2}]."""
    u = torch.zeros(K * D, K * D)
    top, bottom = 0.0, 0.0
    for j in range(len(ws)):
        a = chain(list(reversed(ws[j + 1:])), K)  # k × m (or I_k for the last layer)
        b = chain(list(reversed(ws[:j])), ws[j].shape[1])  # fan_in × d (or I_d)
        aa, bb = a @ a.T, b.T @ b
        u += torch.kron(aa, bb)
        ea, eb = torch.linalg.eigvalsh(aa), torch.linalg.eigvalsh(bb)
        top += (ea[-1] * eb[-1]).item()
        bottom += (ea[0] * eb[0]).item()
    kappa = torch.linalg.cond(u @ torch.kron(torch.eye(K), sigma)).item()
    return kappa, cond_sigma * top / bottom


def run(rep, beta_of):
    """Means per depth of the four quantities, in the draw order of the computing cell."""
    torch.manual_seed(SEED)
    normal = torch.distributions.MultivariateNormal
    x = normal(torch.zeros(D), torch.eye(D)).rsample((N_DATA,))
    normal(torch.zeros(K), torch.eye(K)).rsample((N_DATA,))  # their targets, unused
    sigma = x.T @ x / N_DATA
    cond_sigma = torch.linalg.cond(sigma).item()
    means = {c: [] for c in CELLS}
    for depth in DEPTHS:
        beta = beta_of(depth)
        sums = {c: 0.0 for c in CELLS}
        for _ in range(rep):
            w_in = torch.empty(M, D).normal_(0.0, 1.0 / math.sqrt(D))
            w_out = torch.empty(K, M).normal_(0.0, 1.0 / math.sqrt(M))
            hidden = [torch.empty(M, M).normal_(0.0, 1.0 / math.sqrt(M)) for _ in range(depth)]
            ws = [w_in] + hidden + [w_out]
            plain = quantities(ws, sigma, cond_sigma)
            shifted = quantities(
                [w + beta * torch.eye(*w.shape) for w in ws], sigma, cond_sigma
            )
            for c, (q, skip) in CELLS.items():
                value = shifted if skip else plain
                sums[c] += value[0] if q == "kappa" else value[1]
        for c in CELLS:
            means[c].append(sums[c] / rep)
    return means


def main():
    torch.set_default_dtype(torch.float64)
    path = sys.argv[1] if len(sys.argv) > 1 else "data/published-values.csv"
    stored = {c: [] for c in CELLS}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for c in CELLS:
                if row["source"].endswith(SOURCE + str(c)):
                    stored[c].append(float(row["value"]))
    betas = {"20": lambda _depth: 20.0, "1/sqrt(L+2)": lambda depth: 1 / math.sqrt(depth + 2)}
    found = {}
    for rep in (2, 100, 1000):
        for name, beta_of in betas.items():
            means = run(rep, beta_of)
            for c, (q, skip) in CELLS.items():
                if len(stored[c]) != len(means[c]):
                    sys.exit(f"cell {c}: {len(stored[c])} stored rows, expected {len(DEPTHS)}")
                worst = max(abs(a - s) / abs(s) for a, s in zip(means[c], stored[c]))
                label = f"cell {c} ({q}, {'skip' if skip else 'no skip'}) rep={rep} β={name}"
                print(f"{label}: {' '.join(f'{v:.6g}' for v in means[c])}  max rel. diff {worst:.1e}")
                if worst <= 1e-12 and (skip or c not in found):
                    found[c] = (rep, name if skip else "any")
    print()
    for c, (q, skip) in CELLS.items():
        print(f"cell {c} stored: {' '.join(f'{v:.6g}' for v in stored[c])}")
        print(f"  reproduced by: {found.get(c, 'none of the runs tried')}")
    sys.exit(0 if len(found) == len(CELLS) else 1)


if __name__ == "__main__":
    main()
