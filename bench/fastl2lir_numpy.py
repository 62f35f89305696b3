#!/usr/bin/env python3
"""FastL2LiR in numpy: bench/fastl2lir_bench's reference.

Written for the benchmark from FastL2LiR's published description (Horikawa &
Kamitani 2017; the Kamitani lab's PyFastL2LiR README): a column of ones is
appended to X and penalised like every weight; without voxel selection
[W; b] = (X1'X1 + alpha I)^-1 X1'Y, or X1'(X1X1' + alpha I)^-1 Y when there
are fewer samples than columns; with selection, X1'X1 + alpha I is computed
once and, per target, the n_feat voxels of largest |Pearson r| with it (and
the bias) form a small system solved with numpy.linalg.solve.

Reads X.npy and Y.npy, fits `--runs` times, writes the last fit's
[W; b] to --out and prints one line per run: "seconds <s>".
Thread count: whatever OPENBLAS_NUM_THREADS says (the bench sets it).
"""
import argparse
import time

import numpy as np


def fit(x, y, alpha, n_feat):
    n, d = x.shape
    x1 = np.hstack((x, np.ones((n, 1))))
    if n_feat <= 0 or n_feat >= d:
        if n > d + 1:
            return np.linalg.solve(x1.T @ x1 + alpha * np.eye(d + 1), x1.T @ y)
        return x1.T @ np.linalg.solve(x1 @ x1.T + alpha * np.eye(n), y)
    xc = x - x.mean(axis=0)
    yc = y - y.mean(axis=0)
    xn = np.linalg.norm(xc, axis=0)
    yn = np.linalg.norm(yc, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (xc.T @ yc) / np.outer(xn, yn)
    r[np.var(x, axis=0) < 1e-8, :] = 0
    r = np.nan_to_num(r)
    system = x1.T @ x1 + alpha * np.eye(d + 1)
    xty = x1.T @ y
    wb = np.zeros((d + 1, y.shape[1]))
    for t in range(y.shape[1]):
        order = np.argsort(np.abs(r[:, t]), kind="stable")[::-1][:n_feat]
        idx = np.append(order, d)
        wb[idx, t] = np.linalg.solve(system[np.ix_(idx, idx)], xty[idx, t])
    return wb


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--x", required=True)
    p.add_argument("--y", required=True)
    p.add_argument("--alpha", type=float, required=True)
    p.add_argument("--n_feat", type=int, default=0)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    x = np.load(a.x)
    y = np.load(a.y)
    wb = None
    for _ in range(a.runs):
        start = time.perf_counter()
        wb = fit(x, y, a.alpha, a.n_feat)
        print("seconds %.6f" % (time.perf_counter() - start), flush=True)
    np.save(a.out, wb)


if __name__ == "__main__":
    main()
