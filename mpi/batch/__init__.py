"""Batch dedup runs: Splink over the whole index or a partner's bulk file (issue 16).

- ``engine.py``: scoring and clustering a population through the one Splink adapter, with the online
  path's weights.
- ``normalising.py``: a bulk file's rows normalised in spawned worker processes, in order, for ``bulk_file.py``
  (``mpi dedup --input``); a worker that dies stops the run.
- ``spark.py``: the Spark engine (``--engine spark``): a SparkSession, local or on a cluster, as Splink's database.
"""
