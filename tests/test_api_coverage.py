"""The API coverage measure (bench/api_coverage.py) reads its committed reference lists."""
from __future__ import annotations

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _load():
    spec = importlib.util.spec_from_file_location("api_coverage", ROOT / "bench" / "api_coverage.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_reference_lists_parse_without_duplicates():
    cov = _load()
    for fname, _, _ in cov.SCOPES:
        names = cov.read_names(fname)
        assert len(names) > 10 and len(names) == len(set(names)), fname
        assert all(n.isidentifier() for n in names), fname


def test_coverage_splits_every_name(capsys):
    cov = _load()
    for fname, where, _ in cov.SCOPES:
        present, missing = cov.coverage(fname, where)
        assert sorted(present + missing) == sorted(cov.read_names(fname))
    assert "add" in cov.coverage("toplevel.txt", "deepseek")[0]
    assert cov.main(["--brief"]) == 0
    assert "deepseek.nn.functional" in capsys.readouterr().out
