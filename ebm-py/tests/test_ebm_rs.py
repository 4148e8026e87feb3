"""The Python package against exact answers, at small sizes (the same
checks as the Rust tests): a Gaussian's log Z and energy, an RBM's log Z
by enumeration, HMC's moments, a DSM fit, compositions, and bad input
raising ValueError with the command's message."""

import itertools
import json
import math
import os
import warnings

import numpy as np
import pytest

import ebm_rs

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples-data")

COV = np.array([[1.0, 0.4], [0.4, 0.8]])
MEAN = np.array([1.0, -0.5])


def gaussian():
    return ebm_rs.from_dict({"type": "gaussian", "mean": MEAN.tolist(), "covariance": COV.tolist()})


def test_gaussian_energy_gradient_and_log_z():
    g = gaussian()
    x = np.random.default_rng(0).normal(size=(50, 2))
    p = np.linalg.inv(COV)
    d = x - MEAN
    want = 0.5 * np.einsum("ni,ij,nj->n", d, p, d)
    e, grad = g.energy_grad(x)
    np.testing.assert_allclose(g.energy(x), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(e, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, d @ p, rtol=1e-12, atol=1e-12)
    # a Fortran-ordered array is copied, not misread
    np.testing.assert_allclose(g.energy(np.asfortranarray(x)), want, rtol=1e-12, atol=1e-12)
    exact = math.log(2 * math.pi) + 0.5 * math.log(np.linalg.det(COV))
    r = ebm_rs.log_z(g)
    assert r["method"] == "exact"
    assert abs(r["log_z"] - exact) < 1e-12


def test_rbm_log_z_by_enumeration():
    rng = np.random.default_rng(1)
    w, b, c = rng.normal(0, 0.5, (6, 3)), rng.normal(0, 0.3, 6), rng.normal(0, 0.3, 3)
    rbm = ebm_rs.from_dict({"type": "rbm", "w": w.tolist(), "b": b.tolist(), "c": c.tolist()})
    assert rbm.kind == "binary"
    states = np.array(list(itertools.product([0.0, 1.0], repeat=6)))
    free = -(states @ b) - np.logaddexp(0, c + states @ w).sum(axis=1)
    np.testing.assert_allclose(rbm.energy(states), free, rtol=1e-12, atol=1e-12)
    want = np.log(np.exp(-free).sum())
    assert abs(ebm_rs.log_z(rbm, method="exact")["log_z"] - want) < 1e-10
    ais = ebm_rs.log_z(rbm, method="ais", temps=200, chains=200, seed=3)
    # AIS's error bar is a standard error: 5 of them is a loose, honest bar
    assert abs(ais["log_z"] - want) < 5 * ais["stderr"] + 1e-3
    with pytest.raises(ValueError, match="no gradient"):
        rbm.energy_grad(states)


def test_hmc_moments():
    x, diag = ebm_rs.sample(gaussian(), sampler="hmc", chains=4, draws=2000, warmup=500, seed=2)
    assert x.shape == (2000, 4, 2)
    flat = x.reshape(-1, 2)
    # tolerance: 5 Monte Carlo standard errors of the mean from the ESS
    ess = diag["ess_bulk_min"]
    se = np.sqrt(np.diag(COV) / ess)
    assert np.all(np.abs(flat.mean(axis=0) - MEAN) < 5 * se)
    np.testing.assert_allclose(diag["mean"], flat.mean(axis=0), rtol=1e-10)
    # rank-normalised split R-hat (max of bulk and folded) of 4 chains
    # started apart: 1.01 is the production bar for long runs; at 2,000
    # draws per chain its sampling spread is about 0.01, so 1.05 fails only
    # chains that disagree
    assert diag["rhat_rank_max"] < 1.05
    # the same seed gives the same draws
    y, _ = ebm_rs.sample(gaussian(), sampler="hmc", chains=4, draws=2000, warmup=500, seed=2)
    assert np.array_equal(x, y)


def test_dsm_fits_a_gaussian():
    rng = np.random.default_rng(4)
    data = rng.multivariate_normal(MEAN, COV, size=20000)
    start = ebm_rs.from_dict({"type": "gaussian", "mean": [0.0, 0.0], "covariance": [[1.0, 0.0], [0.0, 1.0]]})
    model, report = ebm_rs.train(start, data, "dsm", steps=3000, batch=256, lr=0.01, sigma=0.1, seed=1)
    assert len(report["losses"]) == 3000
    # as the Rust recovery test: DSM at sigma = 0.1 fits the data smoothed
    # by N(0, 0.01 I), whose mean is the data's (sample mean SE <= 0.01)
    assert np.max(np.abs(np.array(model.spec["mean"]) - MEAN)) < 0.1
    assert model.kind == "continuous" and model.dim == 2


def test_compositions_add_and_scale_energies():
    a = gaussian()
    b = ebm_rs.load(os.path.join(EXAMPLES, "gaussian2.json"))
    x = np.random.default_rng(5).normal(size=(10, 2))
    np.testing.assert_allclose((a + b).energy(x), a.energy(x) + b.energy(x), rtol=1e-12)
    np.testing.assert_allclose((0.5 * a).energy(x), 0.5 * a.energy(x), rtol=1e-12)
    mix = ebm_rs.mixture([a, b], [0.3, 0.7])
    la, lb = ebm_rs.log_z(a)["log_z"], ebm_rs.log_z(b)["log_z"]
    want = -np.log(0.3 * np.exp(-a.energy(x) - la) + 0.7 * np.exp(-b.energy(x) - lb))
    np.testing.assert_allclose(mix.energy(x), want, rtol=1e-10)
    assert abs(ebm_rs.log_z(mix)["log_z"]) < 1e-10  # normalised components
    assert json.loads(json.dumps((a + b).to_dict()))["type"] == "product"


def test_bad_input_raises_value_error_with_the_message():
    with pytest.raises(ValueError, match=r"std\[1\]: must be positive"):
        ebm_rs.from_dict({"type": "diag_gaussian", "mean": [0, 0], "std": [1, -2]})
    with pytest.raises(ValueError, match="--leapfrog"):
        ebm_rs.sample(gaussian(), leapfrog=0)
    with pytest.raises(ValueError, match="rows have 3 columns"):
        gaussian().energy(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="columns"):
        ebm_rs.train(gaussian(), np.zeros((10, 3)), "dsm", steps=5)
    with pytest.raises(ValueError):
        ebm_rs.sample(gaussian(), sampler="nope")
    with pytest.raises(ValueError, match="not JSON"):
        path = os.path.join(os.path.dirname(__file__), "test_ebm_rs.py")
        ebm_rs.load(path)


def test_training_resumes_to_the_same_bits(tmp_path):
    data = ebm_rs.data("two-moons", n=1000, seed=2)
    ck = str(tmp_path / "run.ckpt")
    full, _ = ebm_rs.train(None, data, "dsm", steps=40, batch=64, mlp=[2, 16, 1], sigma=0.2)
    ebm_rs.train(None, data, "dsm", steps=20, batch=64, mlp=[2, 16, 1], sigma=0.2, checkpoint=ck,
                 checkpoint_every=20)
    resumed, report = ebm_rs.train(None, data, "dsm", steps=40, batch=64, sigma=0.2, resume=ck)
    assert resumed.spec == full.spec
    assert len(report["losses"]) == 20


def test_warnings_are_issued():
    wide = ebm_rs.from_dict({"type": "diag_gaussian", "mean": [0.0], "std": [1.0]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = ebm_rs.log_z(wide, method="ais", temps=5, chains=4, seed=0)
    assert len(caught) == len(r["warnings"])


def numpy_gaussian(x):
    """E = 1/2 (x - m)^T P (x - m) for the test Gaussian, in numpy."""
    p = np.linalg.inv(COV)
    d = x - MEAN
    return 0.5 * np.einsum("ni,ij,nj->n", d, p, d), d @ p


def test_python_energy_samples_anneals_and_composes():
    m = ebm_rs.python_energy(numpy_gaussian, 2)
    assert m.kind == "continuous" and m.dim == 2
    x = np.random.default_rng(6).normal(size=(7, 2))
    np.testing.assert_allclose(m.energy(x), gaussian().energy(x), rtol=1e-12)
    # HMC through Python callbacks: the same draws as the built-in Gaussian
    # up to the last bits of its arithmetic; moments within 5 MC SE
    draws, diag = ebm_rs.sample(m, sampler="hmc", chains=4, draws=1000, warmup=300, seed=7)
    se = np.sqrt(np.diag(COV) / diag["ess_bulk_min"])
    assert np.all(np.abs(draws.reshape(-1, 2).mean(axis=0) - MEAN) < 5 * se)
    # AIS on the Python energy against the closed form
    exact = math.log(2 * math.pi) + 0.5 * math.log(np.linalg.det(COV))
    ais = ebm_rs.log_z(m, method="ais", temps=200, chains=200, seed=8)
    assert abs(ais["log_z"] - exact) < 5 * ais["stderr"] + 1e-3
    # a product with a built-in expert adds the energies
    both = m + gaussian()
    np.testing.assert_allclose(both.energy(x), 2 * gaussian().energy(x), rtol=1e-12)


def test_python_energy_errors_are_raised():
    def broken(x):
        raise ZeroDivisionError("inside the energy")

    m = ebm_rs.python_energy(broken, 2)
    with pytest.raises(ZeroDivisionError, match="inside the energy"):
        m.energy(np.zeros((3, 2)))
    with pytest.raises(ZeroDivisionError):
        ebm_rs.sample(m, sampler="mala", chains=2, draws=10, warmup=10)
    wrong = ebm_rs.python_energy(lambda x: (np.zeros(len(x)), np.zeros((len(x), 3))), 2)
    with pytest.raises(ValueError, match="shapes"):
        wrong.energy_grad(np.zeros((3, 2)))
    with pytest.raises(ValueError):
        ebm_rs.python_energy(numpy_gaussian, 0)


def test_shards_merge_to_the_one_process_run():
    m = gaussian()
    opts = dict(sampler="mala", draws=200, warmup=50, seed=3, no_adapt=True, step_size=0.5)
    full, report = ebm_rs.sample(m, chains=12, first_chain=0, **opts)
    parts = [ebm_rs.sample(m, chains=n, first_chain=k, **opts) for k, n in [(5, 7), (0, 5)]]
    draws, merged = ebm_rs.merge(parts)
    assert np.array_equal(draws, full)
    for key in ("mean", "cov", "ess_bulk_min", "rhat_rank_max", "acceptance", "per_chain"):
        assert merged[key] == report[key], key
    with pytest.raises(ValueError, match="gaps or overlaps"):
        ebm_rs.merge(parts[:1])
    with pytest.raises(ValueError, match="--no-adapt"):
        ebm_rs.sample(m, sampler="hmc", chains=2, first_chain=2)
    # AIS particles: shards' reports alone
    full = ebm_rs.log_z(m, method="ais", temps=50, chains=30, first_chain=0, seed=2)
    parts = [ebm_rs.log_z(m, method="ais", temps=50, chains=n, first_chain=k, seed=2) for k, n in [(10, 20), (0, 10)]]
    merged = ebm_rs.merge(parts)
    assert merged["log_z"] == full["log_z"] and merged["stderr"] == full["stderr"]


def test_dask_shards_example():
    """The Dask example on a local cluster it starts itself: four shards on
    two worker processes, merged, equal to one process bit for bit."""
    pytest.importorskip("dask.distributed")
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "examples", "dask_shards.py")
    spec = importlib.util.spec_from_file_location("dask_shards", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    draws, report = example.main(chains=64, shards=4, workers=2)
    single, one = example.shard(0, 64)
    assert report["merged_shards"] == 4
    assert np.array_equal(draws, single)
    for key in ("mean", "cov", "ess_bulk_min", "rhat_rank_max", "per_chain"):
        assert report[key] == one[key], key


def test_constructors_build_the_model_files():
    g = ebm_rs.gaussian(MEAN, covariance=COV)
    assert g.spec["type"] == "gaussian" and abs(ebm_rs.log_z(g)["log_z"] - ebm_rs.log_z(gaussian())["log_z"]) < 1e-14
    assert ebm_rs.diag_gaussian([0, 1], [1, 2]).dim == 2
    mix = ebm_rs.gmm([0.5, 0.5], [[-1, 0], [1, 0]], [0.5, 0.5])
    assert abs(ebm_rs.log_z(mix)["log_z"]) < 1e-12
    r = ebm_rs.rbm(np.zeros((3, 2)), np.zeros(3), np.zeros(2))
    # all-zero RBM: Z = 2^3 * 2^2
    assert abs(ebm_rs.log_z(r, method="exact")["log_z"] - 5 * math.log(2)) < 1e-12
    i = ebm_rs.ising(3, 3, coupling=0.0)
    assert i.kind == "binary" and abs(ebm_rs.log_z(i, method="exact")["log_z"] - 9 * math.log(2)) < 1e-12
    assert abs(ebm_rs.log_z(ebm_rs.banana())["log_z"] - math.log(2 * math.pi)) < 1e-10
    assert ebm_rs.funnel(3).dim == 3 and ebm_rs.double_well(2, 1.0).dim == 2
    with pytest.raises(ValueError, match="std"):
        ebm_rs.diag_gaussian([0], [-1])
