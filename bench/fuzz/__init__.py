"""A differential fuzzer for deepseek: hypothesis draws calls of the public ops, a worker
process runs each in deepseek, and the outcome is compared with PyTorch (when importable) or
with a NumPy/SciPy reference that encodes PyTorch's semantics (promotion, errors, special
values). ``bench/fuzz_diff.py`` is the command line; the modules:

- ``case``: what a call is (tensors as NumPy storage plus a view recipe), library-neutral,
  and how to print it as a reproducer;
- ``promotion``: PyTorch's dtype promotion (``result_type``, ``can_cast``);
- ``expect``: expected outcomes and the comparison that classifies a mismatch;
- ``strategies``: hypothesis strategies for tensors, special values, dims and scalars;
- ``ops``: the op table, one module per op family, each op declared once with its
  strategy and reference;
- ``worker`` / ``pool``: the subprocess that runs calls, and its supervisor (crash, hang);
- ``runner`` / ``report``: exploring each op, shrinking one reproducer per mismatch class,
  and the table.
"""
