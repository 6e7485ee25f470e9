"""Batch dedup runs: Splink over the whole index or a partner's bulk file (issue 16).

- ``engine.py``: scoring and clustering a population through the one Splink adapter, with the online
  path's weights.
- ``spark.py``: the Spark engine (``--engine spark``): a SparkSession, local or on a cluster, as Splink's database.
"""
