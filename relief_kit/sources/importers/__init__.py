"""Importers: a provider's ERP export → the canonical data folder.

One module per source system (``ixc``, ``mkauth``, ``mapped``), reading through
:mod:`relief_kit.sources.raw` and reporting through ``report``; ``folder`` writes the result.
"""
