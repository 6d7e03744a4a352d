"""Stored runs are found again only with the same name, configuration and code; checkpoints resume."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from reprokit import runcache


@pytest.fixture
def store(tmp_path):
    return runcache.RunStore(tmp_path / "runs", code=("reprokit",))


def test_a_finished_run_is_loaded_only_under_its_own_configuration(store):
    cfg = dict(seed=0, width=64, lr=1e-3, conv_bias="default", sizes=[784, 64, 10])
    first = store.run("fmnist-tanh-pc", cfg)
    assert not first.finished and first.resume_state() is None
    first.save(dict(loss=np.arange(3.0), grad=np.ones(3)), seconds=1.5)
    assert first.status == "computed"
    again = store.run("fmnist-tanh-pc", dict(cfg))
    assert again.finished and again.key == first.key
    np.testing.assert_array_equal(again.load()["loss"], np.arange(3.0))
    assert again.status == "loaded"
    for change in (dict(seed=3), dict(width=500), dict(lr=1e-3 * (1 + 1e-15)), dict(conv_bias="zero"),
                   dict(sizes=[784, 64, 64, 10])):
        other = store.run("fmnist-tanh-pc", {**cfg, **change})
        assert not other.finished, f"a run stored for {cfg} was found again for {change}"
    assert not store.run("fmnist-tanh-bp", cfg).finished  # another run name
    meta = json.loads(first.meta.read_text())
    assert meta["config"] == json.loads(runcache.canonical(cfg)) and meta["seconds"] == 1.5
    assert [r["status"] for r in store.report()][:2] == ["computed", "loaded"]


def test_the_key_follows_the_code(tmp_path, monkeypatch):
    pkg = tmp_path / "src" / "toypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core.py").write_text("from . import helper\nVALUE = 1\n")
    (pkg / "helper.py").write_text("X = 1\n")
    (pkg / "unused.py").write_text("Y = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    monkeypatch.setattr(runcache, "_src_root", lambda: tmp_path / "src")
    for name in [m for m in sys.modules if m.startswith("toypkg")]:
        monkeypatch.delitem(sys.modules, name)
    files = {p.name for p in runcache.module_closure("toypkg.core")}
    assert files == {"__init__.py", "core.py", "helper.py"}
    before_module = runcache.code_fingerprint(["toypkg.core"])
    before_package = runcache.code_fingerprint(["toypkg"])
    (pkg / "unused.py").write_text("Y = 2\n")  # not imported by core: only the package key moves
    assert runcache.code_fingerprint(["toypkg.core"]) == before_module
    assert runcache.code_fingerprint(["toypkg"]) != before_package
    (pkg / "helper.py").write_text("X = 2  # a bug fix\n")  # imported by core: both move
    assert runcache.code_fingerprint(["toypkg.core"]) != before_module

    a = runcache.RunStore(tmp_path / "runs", code=["toypkg.core"])
    run = a.run("r", dict(seed=0))
    run.save(dict(loss=np.zeros(2)))
    assert a.run("r", dict(seed=0)).finished
    (pkg / "core.py").write_text("from . import helper\nVALUE = 2\n")
    b = runcache.RunStore(tmp_path / "runs", code=["toypkg.core"])
    assert not b.run("r", dict(seed=0)).finished, "a stored run survived a change of the code that made it"


def test_checkpoints_are_saved_on_schedule_resumed_and_dropped_when_finished(store, monkeypatch):
    run = store.run("long", dict(seed=0))
    clock = [100.0]
    monkeypatch.setattr(runcache.time, "perf_counter", lambda: clock[0])
    checkpoint = run.checkpointer(every=60)
    state = dict(iteration=7, weights=[torch.ones(2, 2)])
    clock[0] = 130.0
    assert checkpoint(lambda: state) is False and not run.checkpoint_file.exists()
    clock[0] = 161.0
    assert checkpoint(lambda: state) is True and run.checkpoint_file.exists()
    resumed = store.run("long", dict(seed=0))
    got = resumed.resume_state()
    assert got["iteration"] == 7 and torch.equal(got["weights"][0], torch.ones(2, 2)) and resumed.resumed_from == 7
    resumed.save(dict(loss=np.zeros(1)))
    assert resumed.status == "resumed" and not resumed.checkpoint_file.exists() and resumed.finished
    assert store.run("long", dict(seed=1)).resume_state() is None  # another configuration: no checkpoint
    with pytest.raises(ValueError, match="interval must be > 0"):
        run.checkpointer(every=0)
    assert not list(store.folder.glob(".*tmp*"))  # atomic writes leave nothing behind


def test_a_disabled_store_computes_and_keeps_nothing(tmp_path):
    store = runcache.RunStore(tmp_path / "off", enabled=False)
    run = store.run("x", dict(a=1))
    assert run.checkpointer() is None and run.resume_state() is None
    run.save(dict(loss=np.zeros(1)))
    assert not run.finished and not (tmp_path / "off").exists() and run.status == "computed"


def test_bad_names_and_configurations_are_refused(store):
    with pytest.raises(ValueError, match="a run name must be"):
        store.run("../escape", {})
    with pytest.raises(TypeError, match=r"config.device = .* is not a JSON type"):
        store.run("x", dict(device=torch.device("cpu")))
    with pytest.raises(TypeError, match="config must be a dict"):
        runcache.canonical([1, 2])
    with pytest.raises(FileNotFoundError, match="has no finished result"):
        store.run("never", {}).load()
    with pytest.raises(ValueError, match="not an importable package or module"):
        runcache.code_fingerprint(["no_such_package_xyz"])
    assert runcache.canonical(dict(b=np.float64(0.1), a=float("nan"))) == '{"a":"nan","b":0.1}'


def test_a_half_written_result_never_counts_as_finished(store, monkeypatch):
    run = store.run("x", dict(a=1))

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError):
        run.save(dict(loss=np.zeros(1)))
    assert not store.run("x", dict(a=1)).finished
