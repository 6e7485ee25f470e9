"""The inbound contract: the canonical person record a source system sends.

Its field names (``fields``), validation (``validation``), the normalised form
the matcher compares (``normalise`` and the modules it is built from), and
reading and writing CSV files of records and labelled pairs (``csvio``). Pure:
no store, no model, no I/O but the files a caller names.
"""
