"""Reference values for ebm-estimators' evaluation metrics (MMD, KSD,
Fisher divergence), computed independently of the Rust code: MMD with
scipy's pdist/cdist, KSD's Stein kernel by JAX automatic differentiation of
the IMQ kernel (no hand-derived formula), the Gaussian scores in numpy.

Writes ebm-estimators/tests/fixtures/eval_reference.json with the arrays,
the values and this provenance. Run with the peers' venv (numpy, scipy,
jax):  python scripts/eval_reference.py
"""

import json
import os
import platform

import numpy as np
import scipy
from scipy.spatial.distance import cdist, pdist

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "ebm-estimators", "tests", "fixtures", "eval_reference.json")

rng = np.random.Generator(np.random.PCG64(2026))
D = 3
x = rng.standard_normal((40, D))                       # "samples"
y = 0.5 + 1.2 * rng.standard_normal((30, D))           # "data", another distribution
mean = np.array([0.3, -0.2, 0.1])
a = rng.standard_normal((D, D))
cov = a @ a.T / D + 0.5 * np.eye(D)
prec = np.linalg.inv(cov)
ref_mean = np.array([0.0, 0.0, 0.5])
ref_cov = np.diag([1.0, 2.0, 0.5])
ref_prec = np.linalg.inv(ref_cov)


def mmd2_u(x, y):
    z = np.vstack([x, y])
    h = np.median(pdist(z))
    k = lambda a, b: np.exp(-cdist(a, b, "sqeuclidean") / (2 * h * h))
    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) \
        - 2 * kxy.mean(), h


def score(p):  # of N(mean, cov): -P (x - mean)
    return -(p - mean) @ prec.T


def imq(u, v):
    return (1.0 + jnp.sum((u - v) ** 2)) ** -0.5


def stein(u, v, su, sv):
    gx = jax.grad(imq, argnums=0)(u, v)
    gy = jax.grad(imq, argnums=1)(u, v)
    hxy = jax.jacfwd(jax.grad(imq, argnums=1), argnums=0)(u, v)
    return su @ sv * imq(u, v) + su @ gy + sv @ gx + jnp.trace(hxy)


def ksd2(p):
    s = score(p)
    n = len(p)
    f = jax.jit(stein)
    tot = sum(float(f(p[i], p[j], s[i], s[j])) for i in range(n) for j in range(n) if i != j)
    return tot / (n * (n - 1))


def fisher(p):
    g = (p - mean) @ prec.T
    g_ref = (p - ref_mean) @ ref_prec.T
    return float(np.mean(0.5 * ((g - g_ref) ** 2).sum(1)))


mmd, h = mmd2_u(x, y)
mmd_same, h_same = mmd2_u(x[:20], x[20:])
out = {
    "provenance": {
        "script": "scripts/eval_reference.py",
        "numpy": np.__version__, "scipy": scipy.__version__, "jax": jax.__version__,
        "python": platform.python_version(),
        "method": "MMD: scipy pdist median and cdist kernels; KSD: Stein kernel by JAX autodiff of the IMQ kernel (c = 1, beta = -1/2); Fisher: numpy",
    },
    "dim": D, "x": x.tolist(), "y": y.tolist(),
    "gaussian": {"mean": mean.tolist(), "covariance": cov.tolist()},
    "reference": {"mean": ref_mean.tolist(), "covariance": ref_cov.tolist()},
    "mmd2_xy": mmd, "bandwidth_xy": h,
    "mmd2_x_halves": mmd_same, "bandwidth_x_halves": h_same,
    "ksd2_x": ksd2(x), "ksd2_y": ksd2(y),
    "fisher_x": fisher(x),
}
with open(OUT, "w") as f:
    json.dump(out, f, indent=1)
print(json.dumps({k: v for k, v in out.items() if k not in ("x", "y")}, indent=1))
