"""The store: the only package that imports ``duckdb`` or holds SQL."""

from mpi.store.gateway import Store

__all__ = ["Store"]
