"""Discovery of backend plugins (entry-point group ``deepseek.backends``), their status, and
loading. Nothing here runs at ``import deepseek``: the first question about a backend
discovers the entry points, and each plugin is imported, checked and probed at most once.
A plugin that raises is recorded with its own message; it never propagates to the caller
of :func:`available`.
"""
from __future__ import annotations

import threading
from importlib import metadata

GROUP = "deepseek.backends"

_lock = threading.RLock()
_plugins: dict | None = None


class Status:
    """A backend's state: ``kind`` is available, unavailable, incompatible or error."""

    def __init__(self, kind: str, reason: str):
        self.kind, self.reason = kind, reason

    @property
    def available(self) -> bool:
        return self.kind == "available"

    def __str__(self):
        return f"{self.kind}: {self.reason}" if self.reason else self.kind


class Plugin:
    """One ``deepseek.backends`` entry point, imported and probed on first use."""

    def __init__(self, name: str, entry_points: list):
        self.name = name
        self.entry_points = entry_points
        ep = entry_points[0]
        dist = getattr(ep, "dist", None)
        self.distribution = dist.metadata["Name"] if dist is not None else f"deepseek-{name}"
        self.version = dist.version if dist is not None else "?"
        self._status = None
        self._hook = None
        self._backend = None

    @property
    def label(self) -> str:
        return f"{self.distribution} {self.version}"

    def status(self) -> Status:
        with _lock:
            if self._status is None:
                self._status = self._probe()
            return self._status

    def _call(self, hook: str):
        caller = getattr(self._hook, hook)
        if not caller.get_hookimpls():
            raise TypeError(f"it does not implement the {hook}() hook")
        results = caller()  # pluggy drops None results
        return results[0] if results else None

    def _probe(self) -> Status:
        from . import abi, hookspecs

        if len(self.entry_points) > 1:
            others = ", ".join(f"{e.value}" for e in self.entry_points)
            return Status("error", f"backend '{self.name}' is registered more than once ({others}); uninstall all but one")
        ep = self.entry_points[0]
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, never raised
            return Status("error", f"{self.label}: importing {ep.value} failed: {type(exc).__name__}: {exc}")
        try:
            import pluggy

            pm = pluggy.PluginManager(hookspecs.PROJECT)
            pm.add_hookspecs(hookspecs)
            pm.register(obj, name=self.name)
            pm.check_pending()
            self._hook = pm.hook
            info = self._call("deepseek_backend_info")
            if not isinstance(info, dict) or not {"name", "version", "abi_version"} <= info.keys():
                raise TypeError(f"deepseek_backend_info() returned {info!r}, not a dict with name, version, abi_version")
            if info["name"] != self.name:
                raise ValueError(f"its info names backend '{info['name']}' but its entry point is '{self.name}'")
            self.version = str(info["version"])
            major, minor = info["abi_version"]
            mismatch = abi.abi_mismatch(self.label, (int(major), int(minor)))
            if mismatch:
                return Status("incompatible", mismatch)
            result = self._call("deepseek_backend_probe")
            if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str)):
                raise TypeError(f"deepseek_backend_probe() returned {result!r}, not (available, reason)")
            ok, reason = result
        except Exception as exc:  # noqa: BLE001
            return Status("error", f"{self.label}: {type(exc).__name__}: {exc}")
        return Status("available" if ok else "unavailable", reason)

    def load(self):
        """The plugin's :class:`~deepseek.backends.backend.Backend`; raises RuntimeError with its reason."""
        from . import abi
        from .backend import Backend

        with _lock:
            if self._backend is not None:
                return self._backend
            st = self.status()
            if not st.available:
                raise RuntimeError(f"backend '{self.name}' ({self.label}): {st}")
            try:
                table = abi.as_table(self._call("deepseek_backend_load"))
                abi.check_table(table, self.label, self.name)
                self._backend = Backend(table, self.distribution, self.version)
            except Exception as exc:  # noqa: BLE001
                reason = str(exc) if isinstance(exc, abi.ABIError) else f"loading failed: {type(exc).__name__}: {exc}"
                self._status = Status("incompatible" if isinstance(exc, abi.ABIError) else "error", reason)
                raise RuntimeError(f"backend '{self.name}' ({self.label}): {self._status}") from exc
            return self._backend


def _entry_points():
    eps = metadata.entry_points()
    if hasattr(eps, "select"):
        return list(eps.select(group=GROUP))
    return list(eps.get(GROUP, []))  # Python 3.9


def plugins() -> dict:
    """Name -> :class:`Plugin` for every installed backend plugin (discovered once)."""
    global _plugins
    with _lock:
        if _plugins is None:
            found: dict = {}
            seen = set()
            for ep in _entry_points():
                dist = getattr(ep, "dist", None)
                key = (ep.name, ep.value, dist.metadata["Name"] if dist is not None else None)
                if key not in seen:  # the same distribution seen twice on sys.path
                    seen.add(key)
                    found.setdefault(ep.name, []).append(ep)
            _plugins = {name: Plugin(name, eps) for name, eps in sorted(found.items())}
        return _plugins


def refresh() -> None:
    """Forgets what was discovered; the next question discovers (and loads) plugins again."""
    global _plugins
    with _lock:
        _plugins = None
