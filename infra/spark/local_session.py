"""The SparkSession every program here uses: local[2] (this machine's two cores), no UI, UTC, and its start-up time."""
import time

from pyspark.sql import SparkSession


def local_session(app_name):
    """A quiet local SparkSession, and how long the JVM and the session took to start, in ms."""
    started = time.monotonic()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark, (time.monotonic() - started) * 1000
