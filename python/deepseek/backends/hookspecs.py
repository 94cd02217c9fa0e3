"""The pluggy hook specifications a backend plugin implements (project name ``"deepseek"``).

A plugin module registered under the entry-point group ``deepseek.backends`` marks its
functions with :data:`hookimpl`::

    from deepseek.backends import hookimpl

    @hookimpl
    def deepseek_backend_info():
        return {"name": "opencl", "version": "0.1.0", "abi_version": (1, 0)}
"""
from __future__ import annotations

import pluggy

PROJECT = "deepseek"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def deepseek_backend_info():
    """Cheap facts about the plugin, read without loading any driver.

    Returns a dict with ``name`` (the device type, equal to the entry point's name),
    ``version`` (the plugin's own version string) and ``abi_version``, the
    ``(major, minor)`` of ``deepseek_backend.h`` the plugin was built against.
    """


@hookspec
def deepseek_backend_probe():
    """Whether the backend can run here, without loading it: ``(available, reason)``.

    ``reason`` says why not when ``available`` is false (``"libOpenCL not found: ..."``),
    and describes what was found when it is true (``"PoCL: 1 device"``).
    """


@hookspec
def deepseek_backend_load():
    """Loads the driver and returns the backend's filled ``ds_backend_table *``.

    Called at most once per process, only after a successful probe. The table is usually
    built with :func:`deepseek.backends.abi.build_table` from Python callbacks; a C
    extension may instead return the table's address as an int.
    """


@hookspec
def deepseek_backend_device_api():
    """Optional: the object answering ``deepseek.<backend>``'s device questions beyond the C
    table (device name and properties, free memory, events, stream queries), with any subset
    of the methods :class:`deepseek.backends.backend.DeviceAPI` lists; omitted ones get the
    defaults :class:`~deepseek.backends.backend.Backend` documents.

    Called at most once, right after ``deepseek_backend_load``; a plugin without this hook
    gets every default.
    """
