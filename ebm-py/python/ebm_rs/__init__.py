"""ebm-rs from Python: energy-based models on numpy arrays.

Models are model files (the JSON of the ``ebm`` command) held as
:class:`Model` objects. Sampling, log Z, training and evaluation run the
``ebm`` command's own code in this process (the GIL released), so every
option, default, check and one-line error message is the command's:
keyword arguments become its options (``step_size=0.2`` is
``--step-size 0.2``; ``True`` a bare flag; lists comma-separated), and
bad input raises ``ValueError`` with the message ``ebm`` prints.

>>> import numpy as np, ebm_rs
>>> g = ebm_rs.from_dict({"type": "diag_gaussian", "mean": [0.0, 1.0], "std": [1.0, 2.0]})
>>> float(g.energy(np.array([[1.0, 1.0]]))[0])
0.5
>>> round(ebm_rs.log_z(g)["log_z"], 6)   # log(2 pi) + log 2
2.531024
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

import itertools

from ._ebm_rs import Energy as _Energy
from ._ebm_rs import register_energy as _register_energy
from ._ebm_rs import run as _run
from ._progress import Bar as _Bar
from ._progress import progress_fn as _progress_fn

__all__ = [
    "Model",
    "load",
    "from_dict",
    "mixture",
    "python_energy",
    "gaussian",
    "diag_gaussian",
    "gmm",
    "rbm",
    "ising",
    "double_well",
    "banana",
    "funnel",
    "sample",
    "log_z",
    "train",
    "evaluate",
    "merge",
    "data",
    "command",
]


class Model:
    """A model file, validated and built: an energy on R^D (continuous), or a
    model on binary or categorical states.

    ``a + b`` is the product of experts (energies add), ``beta * a`` the
    tempered model (energy times beta), :func:`mixture` a mixture of
    normalised components.
    """

    def __init__(self, spec: Dict[str, Any]):
        self._spec = json.loads(json.dumps(spec))
        self._energy = _Energy(json.dumps(self._spec))

    @property
    def spec(self) -> Dict[str, Any]:
        """The model file as a dict (a copy)."""
        return json.loads(json.dumps(self._spec))

    @property
    def dim(self) -> int:
        """Dimension of a state."""
        return self._energy.dim

    @property
    def kind(self) -> str:
        """``"continuous"``, ``"binary"`` or ``"categorical"``."""
        return self._energy.kind

    def _rows(self, x: Any) -> np.ndarray:
        a = np.asarray(x, dtype=np.float64)
        if a.ndim == 1:
            a = a.reshape(1, -1)
        if a.ndim != 2:
            raise ValueError(f"points: expected an (n, {self.dim}) array, got shape {a.shape}")
        return a

    def energy(self, x: Any) -> np.ndarray:
        """E(x_i) for the rows of ``x`` ((n, dim) float64; a C-contiguous
        array is read in place)."""
        return self._energy.energy(self._rows(x))

    def energy_grad(self, x: Any) -> Tuple[np.ndarray, np.ndarray]:
        """(E(x_i), grad_x E(x_i)) for the rows of ``x``: shapes (n,) and
        (n, dim). Continuous models only."""
        return self._energy.energy_grad(self._rows(x))

    def to_dict(self) -> Dict[str, Any]:
        """The model file as a dict."""
        return self.spec

    def save(self, path: str) -> None:
        """Write the model file to ``path``."""
        with open(path, "w") as f:
            json.dump(self._spec, f)

    def __add__(self, other: "Model") -> "Model":
        if not isinstance(other, Model):
            return NotImplemented
        return Model({"type": "product", "experts": [self._spec, other._spec]})

    def __mul__(self, beta: float) -> "Model":
        if isinstance(beta, bool) or not isinstance(beta, (int, float)):
            return NotImplemented
        return Model({"type": "tempered", "base": self._spec, "beta": float(beta)})

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"ebm_rs.Model(type={self._spec.get('type')!r}, dim={self.dim}, kind={self.kind!r})"


def load(path: str) -> Model:
    """Read and build the model file at ``path``."""
    with open(path) as f:
        text = f.read()
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e})") from None
    return Model(spec)


def from_dict(spec: Dict[str, Any]) -> Model:
    """Build a model from a model file as a dict, e.g.
    ``{"type": "gmm", "weights": [...], "means": [...], "stds": [...]}``."""
    return Model(spec)


def mixture(models: Sequence[Model], weights: Sequence[float]) -> Model:
    """The mixture sum_k w_k p_k of normalised components."""
    return Model({"type": "mixture", "components": [m._spec for m in models], "weights": list(weights)})


def _floats(a: Any) -> Any:
    return np.asarray(a, dtype=np.float64).tolist()


def gaussian(mean: Any, covariance: Any = None, precision: Any = None) -> Model:
    """N(mean, covariance), or given by its precision; log Z exact."""
    spec: Dict[str, Any] = {"type": "gaussian", "mean": _floats(mean)}
    if covariance is not None:
        spec["covariance"] = _floats(covariance)
    if precision is not None:
        spec["precision"] = _floats(precision)
    return Model(spec)


def diag_gaussian(mean: Any, std: Any) -> Model:
    """N(mean, diag(std^2))."""
    return Model({"type": "diag_gaussian", "mean": _floats(mean), "std": _floats(std)})


def gmm(weights: Any, means: Any, stds: Any) -> Model:
    """A mixture of isotropic Gaussians (component k: N(means[k], stds[k]^2 I))."""
    return Model({"type": "gmm", "weights": _floats(weights), "means": _floats(means), "stds": _floats(stds)})


def rbm(w: Any, b: Any, c: Any) -> Model:
    """A Bernoulli RBM on {0,1}^V: weights (V, H), visible and hidden biases;
    its energy is the free energy of the visibles."""
    return Model({"type": "rbm", "w": _floats(w), "b": _floats(b), "c": _floats(c)})


def ising(rows: int, cols: int, coupling: float = 1.0, field: float = 0.0, beta: float = 1.0,
          periodic: bool = True) -> Model:
    """The Ising model on a rows x cols lattice of spins +-1."""
    return Model({"type": "ising", "rows": int(rows), "cols": int(cols), "coupling": float(coupling),
                  "field": float(field), "beta": float(beta), "periodic": bool(periodic)})


def double_well(dim: int, barrier: float) -> Model:
    """The double well sum_i a (x_i^2 - 1)^2 (log Z by quadrature)."""
    return Model({"type": "double_well", "dim": int(dim), "barrier": float(barrier)})


def banana(dim: int = 2, curvature: float = 1.0, scale: float = 1.0) -> Model:
    """The banana (twisted Gaussian); log Z exact."""
    return Model({"type": "banana", "dim": int(dim), "curvature": float(curvature), "scale": float(scale)})


def funnel(dim: int, scale: float = 3.0) -> Model:
    """Neal's funnel; log Z exact."""
    return Model({"type": "funnel", "dim": int(dim), "scale": float(scale)})


_PY_ENERGIES = itertools.count()


def python_energy(f: Any, dim: int) -> Model:
    """An energy written in Python: ``f(x)`` takes an (n, dim) float64 array
    and returns ``(energies, gradients)``, arrays of shapes (n,) and
    (n, dim) (numpy, or anything ``np.asarray`` turns into float64, e.g. a
    jitted JAX function's output). The model works everywhere a continuous
    model file does: every sampler, AIS and SMC, compositions with built-in
    models, training's evaluation. The samplers call ``f`` batch by batch
    (a chunk of up to 32 chains at a time), holding the GIL; an exception
    in ``f`` is raised when the call into ebm-rs returns. The energy stays
    registered for the life of the process.
    """
    if not callable(f):
        raise ValueError("python_energy: f must be callable")
    if int(dim) < 1:
        raise ValueError("python_energy: dim must be at least 1")

    def call(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        e, g = f(x)
        return (np.ascontiguousarray(np.asarray(e, dtype=np.float64)),
                np.ascontiguousarray(np.asarray(g, dtype=np.float64)))

    name = f"python:{next(_PY_ENERGIES)}:{getattr(f, '__name__', 'energy')}"
    _register_energy(name, call, int(dim))
    return Model({"type": "external", "name": name})


def _options(options: Dict[str, Any]) -> list:
    """Keyword arguments as command-line options."""
    args = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(str(v) for v in value)]
        else:
            args += [flag, str(value)]
    return args


def command(*args: str, progress: Any = False) -> Dict[str, Any]:
    """Run any ``ebm`` command line in this process and return its JSON
    report, e.g. ``command("energy", "--model", "m.json", "--points",
    "p.npy")``.

    ``progress``: True shows a bar for runs longer than a second (tqdm's
    when installed: a widget in notebooks), a callable
    ``f(label, done, total)`` receives the progress itself (at most every
    50 ms, and at the end). Ctrl-C, or an exception raised by ``f``, stops
    sampling and training after their current block of steps (training
    writes its checkpoint first; the ``KeyboardInterrupt`` names it)."""
    argv = [str(a) for a in args]
    if "--json" not in argv:
        argv.append("--json")
    fn = _progress_fn(progress)
    try:
        return json.loads(_run(argv, fn))
    finally:
        if isinstance(fn, _Bar):
            fn.close()


class _Scratch:
    """A temporary folder for the files a command reads and writes."""

    def __enter__(self) -> "_Scratch":
        self._dir = tempfile.TemporaryDirectory(prefix="ebm_rs_")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._dir.cleanup()

    def path(self, name: str) -> str:
        return os.path.join(self._dir.name, name)

    def model(self, model: Model) -> str:
        p = self.path("model.json")
        model.save(p)
        return p

    def points(self, x: Any, name: str) -> str:
        p = self.path(name)
        np.save(p, np.ascontiguousarray(np.asarray(x, dtype=np.float64)))
        return p


def _warn(report: Dict[str, Any]) -> None:
    for w in report.get("warnings") or []:
        warnings.warn(str(w), RuntimeWarning, stacklevel=3)


def sample(
    model: Model,
    sampler: str = "hmc",
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 500,
    seed: int = 0,
    progress: Any = True,
    **options: Any,
) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Draw samples: returns the draws as a (draws, chains, dim) array and
    the diagnostics (means, covariance, acceptance, ESS (bulk and tail),
    rank-normalised R-hat, MCSE, ...) as a dict.

    ``sampler`` is any of the command's (ula, mala, hmc, nuts, kinetic,
    gibbs, gwg, pt); ``options`` are its options (``step_size``,
    ``leapfrog``, ``max_depth``, ``metric``, ``thin``, ``inner``,
    ``replicas``, ...). ``warmup`` iterations come first (step size and
    mass matrix adapted where the kernel has them). ``progress`` as in
    :func:`command` (a bar after a second; Ctrl-C stops the run).
    """
    with _Scratch() as s:
        out = s.path("draws.npy")
        argv = ["sample", "--model", s.model(model), "--sampler", sampler, "--chains", str(chains),
                "--steps", str(draws), "--burn-in", str(warmup), "--seed", str(seed), "--out", out]
        report = command(*argv, *_options(options), progress=progress)
        x = np.load(out)
    _warn(report)
    return x, report


def merge(shards: Iterable[Any]) -> Any:
    """Merge the shards of a run (``ebm merge``), bit for bit the result of
    one process with all the chains. Sampling: ``shards`` are the
    ``(draws, report)`` pairs of ``sample(..., first_chain=k,
    no_adapt=True)`` calls covering chains 0..M (in any order, from any
    machine); returns ``(draws, report)``. AIS: the reports of
    ``log_z(..., method="ais", first_chain=k)``; returns the report."""
    shards = list(shards)
    if not shards:
        raise ValueError("merge: no shards")
    with _Scratch() as s:
        reports, draws = [], []
        for i, shard in enumerate(shards):
            report = shard if isinstance(shard, dict) else shard[1]
            r = s.path(f"report{i}.json")
            with open(r, "w") as f:
                json.dump(report, f)
            reports.append(r)
            if not isinstance(shard, dict):
                draws.append(s.points(shard[0], f"draws{i}.npy"))
        if not draws:
            return command("merge", "--reports", ",".join(reports))
        out = s.path("merged.npy")
        report = command("merge", "--reports", ",".join(reports), "--draws", ",".join(draws), "--out", out)
        x = np.load(out)
    report.pop("out", None)
    return x, report


def log_z(model: Model, method: Optional[str] = None, seed: int = 0, progress: Any = True,
          **options: Any) -> Dict[str, Any]:
    """log Z of ``model``: ``{"log_z", "stderr", "method", "warnings", ...}``.
    ``method`` is exact, quadrature, ais or smc (default: exact where the
    model has it); ``options`` are the command's (``temps``, ``chains``,
    ``bounds``, ``runs``, ...). Warnings are also issued as
    ``RuntimeWarning``. ``progress`` as in :func:`command` (AIS's bar;
    Ctrl-C is raised when the run returns)."""
    with _Scratch() as s:
        argv = ["logz", "--model", s.model(model), "--seed", str(seed)]
        if method is not None:
            argv += ["--method", method]
        report = command(*argv, *_options(options), progress=progress)
    _warn(report)
    return report


def train(
    model: Optional[Model],
    data: Any,
    estimator: str,
    steps: int = 1000,
    batch: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    checkpoint: Optional[str] = None,
    resume: Optional[str] = None,
    progress: Any = True,
    **options: Any,
) -> Tuple[Model, Dict[str, Any]]:
    """Train ``model`` on the rows of ``data`` with ``estimator`` (cd, pcd,
    replay, shortrun, dsm, ssm, esm, nce, pl, ratio); returns the trained
    model and the report, whose ``"losses"`` lists every step's loss.

    ``model=None`` with ``mlp=[2, 128, 128, 1]`` or ``conv="16:3:1:1,..."``
    starts a fresh network. ``checkpoint`` names a checkpoint file to keep
    (written atomically as the run goes, ``checkpoint_every`` steps apart);
    ``resume`` continues from one, to the same bits as an uninterrupted
    run. ``options`` are the command's (``sigma``, ``k``, ``sampler``,
    ``step_size``, ``ema``, ``lr_schedule``, ``clip_grad``, ...).
    ``progress`` as in :func:`command`: Ctrl-C stops the run after its
    step with the checkpoint written, and ``KeyboardInterrupt`` names it
    (continue with ``resume=``).
    """
    with _Scratch() as s:
        out = s.path("trained.json")
        argv = ["train", "--data", s.points(data, "data.npy"), "--estimator", estimator, "--steps", str(steps),
                "--batch", str(batch), "--lr", str(lr), "--seed", str(seed), "--out", out, "--loss-history"]
        if model is not None:
            argv += ["--model", s.model(model)]
        argv += ["--checkpoint", checkpoint or s.path("trained.ckpt")]
        if resume is not None:
            argv += ["--resume", resume]
        report = command(*argv, *_options(options), progress=progress)
        trained = load(out)
    report.pop("out", None)
    return trained, report


def evaluate(model: Model, metric: str, data: Any = None, samples: Any = None, seed: int = 0,
             **options: Any) -> Dict[str, Any]:
    """Measure ``model``: ``metric`` nll, mmd, ksd or fisher (``reference``
    a :class:`Model` for fisher), on held-out ``data`` and model
    ``samples`` (arrays), as ``ebm eval``."""
    with _Scratch() as s:
        argv = ["eval", "--model", s.model(model), "--metric", metric, "--seed", str(seed)]
        if data is not None:
            argv += ["--data", s.points(data, "data.npy")]
        if samples is not None:
            argv += ["--samples", s.points(samples, "samples.npy")]
        reference = options.pop("reference", None)
        if reference is not None:
            p = s.path("reference.json")
            reference.save(p)
            argv += ["--reference", p]
        return command(*argv, *_options(options))


def data(name: str, n: Optional[int] = None, seed: int = 0, **options: Any) -> np.ndarray:
    """A data set of ``ebm data``: two-moons, rings, eight-gaussians,
    checkerboard, swiss-roll, pinwheel, digits or digits-binary, as an
    (n, d) array."""
    with _Scratch() as s:
        out = s.path("data.npy")
        argv = ["data", name, "--seed", str(seed), "--out", out]
        if n is not None:
            argv += ["--n", str(n)]
        command(*argv, *_options(options))
        return np.load(out)
