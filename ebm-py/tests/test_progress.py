"""Progress and interrupts of runs made from Python: the progress callable
sees the run to its end, the bars render, and an interrupt (Ctrl-C, which
arrives as KeyboardInterrupt from the signal check or from the callable)
stops sampling and training, training with its checkpoint written so
that resuming gives the bits of an uninterrupted run."""

import io

import numpy as np
import pytest

import ebm_rs
from ebm_rs._progress import Bar, TextBar


def gaussian():
    return ebm_rs.diag_gaussian([0.0, 1.0], [1.0, 2.0])


def test_progress_callable_sees_the_whole_run():
    calls = []
    ebm_rs.sample(gaussian(), sampler="mala", chains=4, draws=300, warmup=100, seed=1,
                  progress=lambda *a: calls.append(a))
    assert calls, "the callable was never called"
    assert {label for label, _, _ in calls} == {"sampling"}
    assert calls[-1] == ("sampling", 400, 400)
    done = [d for _, d, _ in calls]
    assert done == sorted(done)


def test_text_bar_renders_in_place():
    out = io.StringIO()
    bar = Bar(delay=0.0, stream=out)
    ebm_rs.sample(gaussian(), sampler="hmc", chains=2, draws=200, warmup=50, progress=bar)
    bar.close()
    text = out.getvalue()
    assert text.startswith("\rsampling [")
    assert "250/250" in text and text.endswith("\n")
    # the line's shape, at a known time
    b = TextBar("train", 10, io.StringIO())
    assert b.line(5, b.start + 4.0) == "train [===============>              ] 5/10 00:04<00:04"
    assert b.line(10, b.start + 8.0) == "train [==============================] 10/10 00:08<00:00"


def test_bad_progress_argument_raises_value_error():
    with pytest.raises(ValueError, match="progress"):
        ebm_rs.sample(gaussian(), progress="yes")


def interrupt_after(calls):
    """A progress callable that raises KeyboardInterrupt (as Ctrl-C would)
    on its `calls`-th call."""
    seen = []

    def f(label, done, total):
        seen.append(done)
        if len(seen) == calls:
            raise KeyboardInterrupt

    return f


def test_interrupt_stops_sampling():
    with pytest.raises(KeyboardInterrupt, match=r"interrupted after \d+ of 1000100 iterations"):
        ebm_rs.sample(gaussian(), sampler="mala", chains=2, draws=1_000_000, warmup=100,
                      progress=interrupt_after(1))
    # parallel tempering's own loop stops too
    with pytest.raises(KeyboardInterrupt, match="interrupted after"):
        ebm_rs.sample(gaussian(), sampler="pt", chains=2, draws=1_000_000, warmup=50, replicas=3,
                      progress=interrupt_after(1))


def test_exception_from_the_callable_is_raised():
    def broken(label, done, total):
        raise RuntimeError("my bar broke")

    with pytest.raises(RuntimeError, match="my bar broke"):
        ebm_rs.sample(gaussian(), chains=2, draws=1_000_000, progress=broken)


def test_interrupted_training_resumes_to_the_same_bits(tmp_path):
    data = ebm_rs.data("two-moons", n=1000, seed=2)
    ck = str(tmp_path / "run.ckpt")
    args = dict(steps=300, batch=64, sigma=0.2, seed=3)
    full, _ = ebm_rs.train(None, data, "dsm", mlp=[2, 16, 1], **args)
    with pytest.raises(KeyboardInterrupt, match="checkpoint written to .*run.ckpt") as info:
        ebm_rs.train(None, data, "dsm", mlp=[2, 16, 1], checkpoint=ck, progress=interrupt_after(1), **args)
    stopped = int(str(info.value).split("interrupted after ")[1].split(" ")[0])
    assert 0 < stopped < 300
    resumed, report = ebm_rs.train(None, data, "dsm", resume=ck, **args)
    assert resumed.spec == full.spec
    assert len(report["losses"]) == 300 - stopped
    assert np.isfinite(report["losses"]).all()


def test_ctrl_c_stops_a_run_and_stays_python_s(tmp_path):
    """A real SIGINT, in a fresh interpreter: it stops a long sampling run
    with KeyboardInterrupt, and after a training run (whose command-line
    version installs a Ctrl-C handler) Python still gets its own
    KeyboardInterrupt."""
    script = tmp_path / "interrupt.py"
    script.write_text(
        "import os, signal, threading, time\n"
        "import ebm_rs\n"
        "g = ebm_rs.diag_gaussian([0.0], [1.0])\n"
        "ebm_rs.train(None, ebm_rs.data('two-moons', n=200), 'dsm', steps=5, mlp=[2, 8, 1])\n"
        "def interrupt():\n"
        "    time.sleep(0.5)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "for what in ['sample', 'sleep']:\n"
        "    threading.Thread(target=interrupt).start()\n"
        "    t = time.monotonic()\n"
        "    try:\n"
        "        if what == 'sample':\n"
        "            ebm_rs.sample(g, sampler='mala', chains=2, draws=10**8, progress=False)\n"
        "        else:\n"
        "            time.sleep(30)\n"
        "    except KeyboardInterrupt as e:\n"
        "        print(what, 'interrupted', round(time.monotonic() - t, 1), e)\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out.stdout
    assert lines[0].startswith("sample interrupted") and "interrupted after" in lines[0]
    assert lines[1].startswith("sleep interrupted")
    for line in lines:
        assert float(line.split()[2]) < 5.0, line


def test_tqdm_bar_when_installed(capsys):
    pytest.importorskip("tqdm")  # installed by .ci/run
    bar = Bar(delay=0.0)
    ebm_rs.sample(gaussian(), sampler="hmc", chains=2, draws=200, warmup=50, progress=bar)
    assert bar.bar is None  # closed when the run returned
    err = capsys.readouterr().err
    assert "sampling: 100%|" in err and "250/250" in err  # tqdm's line, not TextBar's
