"""What a plugin's C build needs from this package: the folders of the planner's sources and
headers, and the geometry as preprocessor macros.

This module imports only the standard library and :mod:`.geometry` (by path), so a build
script running in an isolated build environment, where deepseek is not installed, can load it
by file path from the repository (``python/deepseek/backends/kernels/build.py``) or from an
installed deepseek, without importing deepseek itself::

    spec = importlib.util.spec_from_file_location("dsk_build", kernels_dir / "build.py")
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The planner as one translation unit (it includes the other .c files of csrc_dir()): a plugin
# compiles it beside its hooks, or #includes it into its own C file.
PLANNER_SOURCE = "dsk_planner.c"


def csrc_dir() -> Path:
    """The folder of the shared C launch planner (``dsk_plan.h`` and its ``.c`` files)."""
    return HERE / "csrc"


def include_dirs() -> list:
    """The folders a plugin's C build puts on its include path: the planner's and the one
    holding ``deepseek_backend.h``."""
    return [csrc_dir(), HERE.parent / "include"]


def _geometry():
    spec = importlib.util.spec_from_file_location("_dsk_geometry", HERE / "geometry.py")
    g = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(g)
    return g


def macros() -> list:
    """``(name, value)`` preprocessor definitions of the geometry the C planner shares with
    the kernels (``DSK_MAXD``, ``DSK_MAXT``, ``DSK_FMAXT``, ``DSK_LS``, ``DSK_MW``, ``DSK_MT``, ``DSK_MD``,
    ``DSK_MDW``, ``DSK_PARAM_SIZES``, ``DSK_SORT_RANK_MAX``, ``DSK_SORT_BLOCK``, ``DSK_MAX_GROUPS_YZ``)."""
    g = _geometry()
    names = ("MAXD", "MAXT", "FMAXT", "LS", "MW", "MT", "MD", "MDW", "SORT_RANK_MAX", "SORT_BLOCK", "MAX_GROUPS_YZ")
    return [(f"DSK_{n}", str(getattr(g, n))) for n in names] + [("DSK_PARAM_SIZES", ",".join(map(str, g.PARAM_SIZES)))]
