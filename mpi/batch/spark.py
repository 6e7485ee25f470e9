"""A Spark engine for batch runs: a SparkSession wrapped as Splink's database (``--engine spark``).

The batch engine (:mod:`mpi.batch.engine`) runs on whatever Splink database it
is given; this module builds the Spark one. Splink itself stays behind the
adapter (:func:`mpi.matching.splink_adapter.spark_api`), which also says the
model's DuckDB SQL in Spark SQL (:mod:`mpi.matching.spark_sql`), so a pair
scores on Spark as it does on DuckDB.

pyspark is an optional extra (``pip install 'closedloop-mpi[spark]'``) and is
imported only when a session is asked for. Spark needs Java 17 or 21 on the
driver and every executor.

Locally (``local[*]``, the default) the session keeps to a small machine: few
shuffle partitions, a 2 GB driver, no web UI, Splink's intermediate tables
written as Parquet under a temporary checkpoint folder that :func:`stop` removes.
On a cluster (``spark://host:7077`` or any master URL) the executors cannot see
the driver's folders, so Splink's intermediate tables are persisted in the
executors' memory (spilling to their disks) instead, and the cluster's own
defaults for memory and partitions apply.
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import shutil
import tempfile
from typing import Any

from mpi.errors import MpiError
from mpi.matching import splink_adapter

logger = logging.getLogger(__name__)

#: The master used when none is given: every core of this machine.
LOCAL_MASTER = "local[*]"
APP_NAME = "closedloop-mpi"
#: The driver's heap in local mode, where the driver is also the only executor.
LOCAL_DRIVER_MEMORY = "2g"
INSTALL_HINT = "pip install 'closedloop-mpi[spark]'"


class SparkUnavailable(MpiError):
    """The Spark engine was asked for but pyspark (or the session it needs) is not there."""

    status = 503
    code = "spark_unavailable"


def require_pyspark() -> None:
    """Raise SparkUnavailable (naming the extra) unless pyspark is installed: checked before a run is recorded."""
    if importlib.util.find_spec("pyspark") is None:
        raise SparkUnavailable(f"the spark engine needs pyspark: {INSTALL_HINT}")


def is_local(master: str) -> bool:
    """Whether a master URL runs Spark inside this process's JVM (``local``, ``local[4]``, ``local[*]``)."""
    return master == "local" or master.startswith("local[")


def _local_cores(master: str) -> int:
    inside = master[len("local["):-1].split(",")[0] if master.startswith("local[") else "1"
    return max(1, int(inside)) if inside.isdigit() else os.cpu_count() or 1


def spark_session(master: str | None = None) -> Any:
    """A SparkSession for batch runs on ``master`` (``local[*]`` when None), with Splink's jar on its classpath.

    Raises:
        SparkUnavailable: pyspark is not installed, or Spark did not start (no Java, a master it cannot reach).
    """
    master = master or LOCAL_MASTER
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise SparkUnavailable(f"the spark engine needs pyspark: {INSTALL_HINT}") from e
    builder = (SparkSession.builder.master(master).appName(APP_NAME)
               .config("spark.jars", splink_adapter.spark_jar())
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.log.level", "ERROR"))
    checkpoints = None
    if is_local(master):
        # One shuffle partition a core or two, not Spark's 200: a few thousand records would
        # otherwise run as hundreds of tiny tasks.
        checkpoints = tempfile.mkdtemp(prefix="mpi-spark-")
        atexit.register(shutil.rmtree, checkpoints, True)  # a run that never calls stop() leaves nothing behind
        builder = (builder.config("spark.sql.shuffle.partitions", str(2 * _local_cores(master)))
                   .config("spark.default.parallelism", str(2 * _local_cores(master)))
                   .config("spark.driver.memory", LOCAL_DRIVER_MEMORY)
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.local.dir", checkpoints))
    try:
        session = builder.getOrCreate()
    except Exception as e:  # py4j and Spark raise their own trees; Java missing is a plain RuntimeError
        if checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise SparkUnavailable(f"Spark did not start on master {master}: {reason}") from e
    session.sparkContext.setLogLevel("ERROR")
    _quiet_codegen(session)
    if checkpoints:
        session.sparkContext.setCheckpointDir(os.path.join(checkpoints, "checkpoints"))
    logger.info("spark session started: master %s, spark %s", master, session.version)
    return session


def _quiet_codegen(session: Any) -> None:
    """Silence Spark's code generator, which logs a page of Java when a plan's generated code is too large
    for the JIT compiler and it falls back to interpreting it (the levels' Jaro-Winkler does that)."""
    try:
        jvm = session.sparkContext._jvm
        level = jvm.org.apache.logging.log4j.Level.OFF
        for name in ("org.apache.spark.sql.catalyst.expressions.codegen",
                     "org.apache.spark.sql.execution.WholeStageCodegenExec"):
            jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(name, level)
    except Exception:  # another logging backend: only the noise stays
        logger.debug("spark code generator logs left as they are")


def spark_db_api(master: str | None = None) -> Any:
    """Splink's Spark database on a new session (:func:`spark_session`): pass it to ``engine.score``.

    Args:
        master: a Spark master URL (``spark://host:7077``, ``yarn``, ``k8s://...``); ``local[*]`` when None.

    Raises:
        SparkUnavailable: pyspark is not installed or Spark did not start.
    """
    master = master or LOCAL_MASTER
    session = spark_session(master)
    return splink_adapter.spark_api(session, lineage="parquet" if is_local(master) else "persist")


def stop(db_api: Any) -> None:
    """Stop a Spark database's session and remove its local scratch folder (intermediate tables included)."""
    session = db_api.spark
    scratch = session.conf.get("spark.local.dir", None) if is_local(session.sparkContext.master) else None
    session.stop()
    if scratch and os.path.basename(scratch).startswith("mpi-spark-"):
        shutil.rmtree(scratch, ignore_errors=True)
