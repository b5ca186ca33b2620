"""
Runs structured-streaming parity cases in PySpark and prints every trigger's output as JSON.

Input (stdin): {"workDir": dir, "cases": [...], "unsupported": [...]}.
- A case: {"id", "query": "word_count" | "windowed", "mode", "batches": [[record]], and for "windowed":
  "size", "slide" (durations in ms; slide absent for tumbling), "watermarkMs"}. Each batch becomes one
  JSON-lines file; the query reads them with maxFilesPerTrigger 1 and trigger availableNow, so Spark
  runs one micro-batch per file (and the no-data batches it decides to run), and foreachBatch keeps each
  micro-batch's output.
- An unsupported case: {"id", "kind", "mode"}: the query is built and started on an empty directory;
  the answer says whether Spark refused it, and why.
Output (stdout, last line): {"startupMs", "outputs": {id: [[row] per micro-batch]}, "refused": {id: message | null}}.
Rows are JSON objects; a window is {"start": ms, "end": ms}.
"""
import json
import os
import sys

from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from local_session import local_session

LINES = StructType([StructField("value", StringType())])
TICKS = StructType([StructField("symbol", StringType()), StructField("price", LongType()), StructField("ts", LongType())])


def ms(value):
    """A timestamp as epoch milliseconds (Spark hands datetimes in the session's zone: UTC here)."""
    return int(round(value.timestamp() * 1000))


def row_json(row):
    out = {}
    for key, value in row.asDict(recursive=True).items():
        if key == "window":
            out[key] = {"start": ms(value["start"]), "end": ms(value["end"])}
        else:
            out[key] = value
    return out


def source(spark, directory, schema):
    frame = spark.readStream.schema(schema).option("maxFilesPerTrigger", 1).json(directory)
    return frame.withColumn("ts", F.timestamp_millis("ts")) if schema is TICKS else frame


def word_count(frame):
    return frame.select(F.explode(F.split(F.col("value"), " ")).alias("word")).groupBy("word").count()


def windowed(frame, case):
    size = f"{case['size']} milliseconds"
    slide = f"{case['slide']} milliseconds" if case.get("slide") else None
    watermarked = frame.withWatermark("ts", f"{case['watermarkMs']} milliseconds")
    grouped = watermarked.groupBy(F.window("ts", size, slide) if slide else F.window("ts", size), "symbol")
    return grouped.agg(F.count("*").alias("n"), F.sum("price").alias("total"))


def run_case(spark, work_dir, case):
    directory = os.path.join(work_dir, case["id"])
    os.makedirs(directory)
    for i, batch in enumerate(case["batches"]):
        path = os.path.join(directory, f"batch-{i:04d}.json")
        with open(path, "w") as out:
            # {"__raw": text} is a line written as it is: the malformed input of a case.
            out.writelines((record["__raw"] if "__raw" in record else json.dumps(record)) + "\n" for record in batch)
        # Files are taken oldest first: one second apart, so their order is the batches'.
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    if case["query"] == "word_count":
        result = word_count(source(spark, directory, LINES))
    else:
        result = windowed(source(spark, directory, TICKS), case)
    batches = []

    def collect(frame, batch_id):
        batches.append([row_json(row) for row in frame.collect()])

    query = (
        result.writeStream.outputMode(case["mode"])
        .foreachBatch(collect)
        .option("checkpointLocation", os.path.join(work_dir, case["id"] + "-checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    return batches


def unsupported_query(frame, kind):
    """The query of an "unsupported" case, over the ticks source."""
    per_symbol = frame.groupBy("symbol").agg(F.count("*").alias("n"))
    return {
        "limit": lambda: frame.limit(5),
        "limit_after_aggregation": lambda: per_symbol.limit(5),
        "distinct": lambda: frame.select("symbol").distinct(),
        "sort": lambda: frame.orderBy("price"),
        "sort_after_aggregation": lambda: per_symbol.orderBy("n"),
        "chained_aggregation": lambda: per_symbol.groupBy("n").count(),
        "no_aggregation": lambda: frame.select("symbol", "price"),
        "aggregation_without_watermark": lambda: per_symbol,
        "watermark_without_window": lambda: frame.withWatermark("ts", "1 minute").groupBy("symbol").count(),
    }[kind]()


def try_unsupported(spark, work_dir, case):
    directory = os.path.join(work_dir, case["id"])
    os.makedirs(directory)
    query = None
    try:
        query = (
            unsupported_query(source(spark, directory, TICKS), case["kind"])
            .writeStream.outputMode(case["mode"])
            .format("memory")
            .queryName(case["id"].replace("-", "_"))
            .start()
        )
        return None
    except Exception as error:  # Spark's AnalysisException, raised at start
        return str(error).split("\n")[0]
    finally:
        if query is not None:
            query.stop()


def main():
    spec = json.load(sys.stdin)
    spark, startup_ms = local_session("structured-parity")
    outputs = {case["id"]: run_case(spark, spec["workDir"], case) for case in spec["cases"]}
    refused = {case["id"]: try_unsupported(spark, spec["workDir"], case) for case in spec.get("unsupported", [])}
    spark.stop()
    print(json.dumps({"startupMs": startup_ms, "outputs": outputs, "refused": refused}))


if __name__ == "__main__":
    main()
