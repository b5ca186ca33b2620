"""
The Spark side of `npm run bench -- --peers spark`: the same work as our speed layer and batch recompute,
timed here. Input (stdin): {"jsonDir", "parquetFiles", "outDir", "rounds", "filesPerTrigger"}.
- Streaming: Structured Streaming over the JSON-lines files of the benchmark's events (`filesPerTrigger`
  files a micro-batch, trigger availableNow), count per page per one-minute event-time window in update
  mode, each micro-batch's rows written to Parquet (durable) by foreachBatch: milliseconds from start to
  the last batch written.
- The same with the three demo views' aggregates where Spark has an equivalent (count, avg, max,
  approx_count_distinct; no top-k), as three queries at once: milliseconds until all finished.
- Batch: the same count over the Parquet files of our lake archive, written to Parquet: milliseconds.
Spark's start-up (the JVM and the session) is timed apart. Output (stdout, last line): JSON.
"""
import json
import os
import sys
import time

from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from local_session import local_session

PAGE_VIEW = StructType(
    [
        StructField("url", StringType()),
        StructField("user", StringType()),
        StructField("referrer", StringType()),
        StructField("latency", LongType()),
        StructField("device", StringType()),
        StructField("ts", LongType()),
    ]
)


def streaming_round(spark, spec, round_index):
    out = os.path.join(spec["outDir"], f"stream-{round_index}")
    frame = spark.readStream.schema(PAGE_VIEW).option("maxFilesPerTrigger", spec["filesPerTrigger"]).json(spec["jsonDir"])
    counts = frame.groupBy(F.window(F.timestamp_millis("ts"), "1 minute"), "url").count()
    rows = {"n": 0}

    def write(batch, batch_id):
        batch.write.mode("overwrite").parquet(os.path.join(out, str(batch_id)))
        rows["n"] += 1

    started = time.monotonic()
    query = (
        counts.writeStream.outputMode("update")
        .foreachBatch(write)
        .option("checkpointLocation", os.path.join(out, "_checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    return (time.monotonic() - started) * 1000, rows["n"]


def demo_round(spark, spec, round_index):
    """The three demo views' aggregates where Spark has them (all but top-k), as three queries at once."""
    out = os.path.join(spec["outDir"], f"demo-{round_index}")
    frame = spark.readStream.schema(PAGE_VIEW).option("maxFilesPerTrigger", spec["filesPerTrigger"]).json(spec["jsonDir"])
    frame = frame.withColumn("event_time", F.timestamp_millis("ts"))
    views = {
        "pageviews_by_url": frame.groupBy(F.window("event_time", "1 minute"), "url").agg(
            F.count("*").alias("views"),
            F.approx_count_distinct("user").alias("visitors"),
            F.avg("latency").alias("avg_latency_ms"),
            F.max("latency").alias("max_latency_ms"),
        ),
        "visitors_by_referrer": frame.groupBy(F.window("event_time", "10 minutes", "1 minute"), "referrer").agg(
            F.count("*").alias("visits"), F.approx_count_distinct("user").alias("visitors")
        ),
        "slow_pages": frame.where("latency >= 1000")
        .withColumn("seconds", F.col("latency") / 1000)
        .groupBy("url")
        .agg(F.count("*").alias("slow_views"), F.avg("seconds").alias("avg_seconds"), F.max("seconds").alias("worst_seconds")),
    }
    started = time.monotonic()
    queries = []
    for name, view in views.items():

        def write(batch, batch_id, name=name):
            batch.write.mode("overwrite").parquet(os.path.join(out, name, str(batch_id)))

        queries.append(
            view.writeStream.outputMode("update")
            .foreachBatch(write)
            .option("checkpointLocation", os.path.join(out, name, "_checkpoint"))
            .trigger(availableNow=True)
            .start()
        )
    for query in queries:
        query.awaitTermination()
    return (time.monotonic() - started) * 1000


def batch_round(spark, spec, round_index):
    out = os.path.join(spec["outDir"], f"batch-{round_index}")
    started = time.monotonic()
    frame = spark.read.parquet(*spec["parquetFiles"])
    counts = frame.groupBy("url", (F.floor(F.col("_event_time") / 60000) * 60000).alias("minute")).count()
    counts.write.mode("overwrite").parquet(out)
    elapsed = (time.monotonic() - started) * 1000
    return elapsed, spark.read.parquet(out).count()


def main():
    spec = json.load(sys.stdin)
    spark, startup_ms = local_session("bench-peer")
    streaming, demo, batch = [], [], []
    batches = rows = 0
    for i in range(spec["rounds"]):
        ms, batches = streaming_round(spark, spec, i)
        streaming.append(ms)
        demo.append(demo_round(spark, spec, i))
        ms, rows = batch_round(spark, spec, i)
        batch.append(ms)
    spark.stop()
    print(json.dumps({"startupMs": startup_ms, "streamingMs": streaming, "demoMs": demo, "batchMs": batch, "microBatches": batches, "batchRows": rows}))


if __name__ == "__main__":
    main()
