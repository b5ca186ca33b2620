"""
The Spark side of the latency figure of `npm run bench -- --peers spark`: how long an event takes from
being sent to being in a micro-batch's output, with Spark's smallest workable trigger (micro-batches back
to back: no trigger interval). Spark reads text lines from the benchmark's TCP server (the socket source),
each a marker `{"id": n, "sentAt": epoch ms}`; foreachBatch notes when each marker's batch ran.
Input (stdin): {"host", "port", "markers", "timeoutSeconds"}. Output (stdout, last line):
{"startupMs", "latenciesMs": [...]}.
"""
import json
import sys
import time

from local_session import local_session



def main():
    spec = json.load(sys.stdin)
    spark, startup_ms = local_session("bench-latency")
    latencies = []

    def note(frame, batch_id):
        now = time.time() * 1000
        for row in frame.collect():
            try:
                marker = json.loads(row.value)
            except ValueError:
                continue
            latencies.append(now - marker["sentAt"])

    lines = spark.readStream.format("socket").option("host", spec["host"]).option("port", spec["port"]).load()
    query = lines.writeStream.foreachBatch(note).start()
    deadline = time.monotonic() + spec["timeoutSeconds"]
    while len(latencies) < spec["markers"] and time.monotonic() < deadline:
        time.sleep(0.05)
    query.stop()
    spark.stop()
    print(json.dumps({"startupMs": startup_ms, "latenciesMs": latencies}))


if __name__ == "__main__":
    main()
