"""
Runs DStream parity cases in PySpark and prints every batch's output as JSON.

Input (stdin): {"batchMs": 1000, "batches": N, "checkpoint": dir, "cases": [{"id", "op", "args", "inputs"}]}.
Every case is one small program over queue streams of fixed batches (`inputs`: one list of batches per
input stream). All cases run in one StreamingContext driven by a manual clock, so N batches take as
long as Spark needs to compute them, not N batch intervals. Output (stdout, last line):
{"startupMs": ..., "outputs": {case id: {batch time ms: [records]}}}; a case whose stream produced no
batch at a time has no entry for it.

The functions a case names are defined here and, identically, in the TypeScript suite
(infra/test/spark-dstream-parity.test.ts): integers only, so results are exact in both.
"""
import json
import sys
import time

from pyspark import SparkConf, SparkContext
from pyspark.streaming import StreamingContext
from pyspark.streaming.listener import StreamingListener

FUNCTIONS = {
    "double": lambda x: x * 2,
    "mod3": lambda x: x % 3,
    "negate": lambda x: -x,
    "repeat_mod3": lambda x: [x] * (x % 3),
    "digits": lambda x: [int(d) for d in str(abs(x))],
    "even": lambda x: x % 2 == 0,
    "positive": lambda x: x > 0,
    "add": lambda a, b: a + b,
    "max": lambda a, b: max(a, b),
    "subtract": lambda a, b: a - b,
}


def update_sum(values, state):
    """updateStateByKey: the running sum of a key's values; the key is dropped when it goes below 0."""
    total = (state or 0) + sum(values)
    return None if total < 0 else total


def pairs(batches):
    return [[(record[0], record[1]) for record in batch] for batch in batches]


def build(ssc, case):
    op, args, inputs = case["op"], case.get("args", {}), case["inputs"]
    keyed = op in ("reduceByKey", "join", "updateStateByKey", "reduceByKeyAndWindow", "mapValues")
    streams = [ssc.queueStream(pairs(batches) if keyed else batches, oneAtATime=True, default=ssc.sparkContext.parallelize([])) for batches in inputs]
    s = streams[0]
    fn = FUNCTIONS.get(args.get("fn"))
    inverse = FUNCTIONS.get(args.get("inverse"))
    seconds = lambda name: args[name] / 1000 if args.get(name) is not None else None
    if op == "identity":
        return s
    if op == "map":
        return s.map(fn)
    if op == "flatMap":
        return s.flatMap(fn)
    if op == "filter":
        return s.filter(fn)
    if op == "reduce":
        return s.reduce(fn)
    if op == "count":
        return s.count()
    if op == "countByValue":
        return s.countByValue()
    if op == "transform":
        return s.transform(lambda rdd: rdd.distinct())
    if op == "union":
        return s.union(streams[1])
    if op == "mapValues":
        return s.mapValues(fn)
    if op == "reduceByKey":
        return s.reduceByKey(fn)
    if op == "join":
        return s.join(streams[1])
    if op == "updateStateByKey":
        return s.updateStateByKey(update_sum)
    if op == "window":
        return s.window(seconds("length"), seconds("slide"))
    if op == "reduceByWindow":
        return s.reduceByWindow(fn, inverse, seconds("length"), seconds("slide"))
    if op == "countByWindow":
        return s.countByWindow(seconds("length"), seconds("slide"))
    if op == "reduceByKeyAndWindow":
        return s.reduceByKeyAndWindow(fn, inverse, seconds("length"), seconds("slide"))
    raise ValueError(f"unknown operation {op}")


class CompletedBatches(StreamingListener):
    """The newest batch time Spark finished every output of."""

    def __init__(self):
        self.newest = 0

    def onBatchCompleted(self, batchCompleted):
        self.newest = max(self.newest, batchCompleted.batchInfo().batchTime().milliseconds())


def main():
    spec = json.load(sys.stdin)
    started = time.monotonic()
    conf = (
        SparkConf()
        .setMaster("local[2]")
        .setAppName("dstream-parity")
        .set("spark.streaming.clock", "org.apache.spark.util.ManualClock")
        .set("spark.ui.enabled", "false")
        .set("spark.default.parallelism", "1")
    )
    sc = SparkContext(conf=conf)
    sc.setLogLevel("ERROR")
    startup_ms = (time.monotonic() - started) * 1000
    batch_ms = spec["batchMs"]
    ssc = StreamingContext(sc, batch_ms / 1000)
    ssc.checkpoint(spec["checkpoint"])
    outputs = {}
    seen = {}
    for case in spec["cases"]:
        cid = case["id"]
        outputs[cid] = {}
        seen[cid] = 0

        def collect(t, rdd, cid=cid):
            ms = int(round(t.timestamp() * 1000))
            outputs[cid][ms] = [list(r) if isinstance(r, tuple) else r for r in rdd.collect()]
            seen[cid] = max(seen[cid], ms)

        build(ssc, case).foreachRDD(collect)
    completed = CompletedBatches()
    ssc.addStreamingListener(completed)
    ssc.start()
    # The manual clock starts at 0: batch i (from 1) is at i * batchMs. A stream without a batch at some
    # time (a window between slides) calls no foreachRDD then, so wait on the listener, not the outputs.
    clock = ssc._jssc.ssc().scheduler().clock()
    for i in range(1, spec["batches"] + 1):
        clock.advance(batch_ms)
        deadline = time.monotonic() + 120
        while completed.newest < i * batch_ms:
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {i} did not complete in 120 s")
            time.sleep(0.005)
    ssc.stop(stopSparkContext=True, stopGraceFully=False)
    print(json.dumps({"startupMs": startup_ms, "outputs": {cid: {str(k): v for k, v in batches.items()} for cid, batches in outputs.items()}}))


if __name__ == "__main__":
    main()
