"""Query latency of SQLiteVectorStore against a pure-Python loop over the same rows.

Requirement: 100,000 vectors of dimension 16 answer a top-10 query in under 20 ms (p50).
Usage: python bench/vector_store.py [--n 100000] [--dim 16] [--queries 200] [--metric cosine] [--json]
With --json the last line is one JSON object: n, dim, query_ms_p50, query_ms_p99,
naive_python_query_ms, ratio (naive / p50).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from a checkout

from engine.store import SQLiteVectorStore, VectorRecord  # noqa: E402

TOP_K = 10
REQUIRED_P50_MS = 20.0


def naive_top_k(rows: list[list[float]], ids: list[str], q: list[float], metric: str) -> list[str]:
    """The peer: score every row in a Python loop, keep the best TOP_K with a heap."""
    q_norm = math.sqrt(sum(v * v for v in q))
    scored = []
    for row_id, row in zip(ids, rows):
        if metric == "euclidean":
            scored.append((-sum((a - b) ** 2 for a, b in zip(row, q)), row_id))
            continue
        dot = sum(a * b for a, b in zip(row, q))
        if metric == "cosine":
            dot /= math.sqrt(sum(a * a for a in row)) * q_norm
        scored.append((dot, row_id))
    return [row_id for _, row_id in heapq.nlargest(TOP_K, scored)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--naive-queries", type=int, default=3)
    parser.add_argument("--metric", choices=["cosine", "dotproduct", "euclidean"], default="cosine")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    ids = [f"v{i}" for i in range(args.n)]
    queries = rng.normal(size=(args.queries, args.dim)).astype(np.float32)

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteVectorStore(Path(tmp) / "store.sqlite", args.dim, args.metric)
        t0 = time.perf_counter()
        for start in range(0, args.n, 10_000):
            stop = min(start + 10_000, args.n)
            store.upsert("bench", [VectorRecord(ids[i], x[i], {"i": i}) for i in range(start, stop)])
        upsert_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.query("bench", queries[0], TOP_K)  # loads the namespace into memory
        load_s = time.perf_counter() - t0
        times = []
        for q in queries:
            t0 = time.perf_counter()
            store.query("bench", q, TOP_K)
            times.append((time.perf_counter() - t0) * 1e3)

        rows = x.tolist()
        naive_times, agree = [], True
        for q in queries[: args.naive_queries]:
            t0 = time.perf_counter()
            naive = naive_top_k(rows, ids, q.tolist(), args.metric)
            naive_times.append((time.perf_counter() - t0) * 1e3)
            agree &= naive == [m.id for m in store.query("bench", q, TOP_K)]
        store.close()

    p50, p99 = float(np.percentile(times, 50)), float(np.percentile(times, 99))
    naive_ms = float(np.median(naive_times))
    print(f"SQLiteVectorStore, {args.n:,} vectors x {args.dim} dims, {args.metric}, top-{TOP_K}")
    print(f"{'measure':<36}{'value':>12}")
    print(f"{'upsert all (s)':<36}{upsert_s:>12.2f}")
    print(f"{'first query, loads namespace (ms)':<36}{load_s * 1e3:>12.1f}")
    print(f"{'query p50 (ms)':<36}{p50:>12.3f}")
    print(f"{'query p99 (ms)':<36}{p99:>12.3f}")
    print(f"{'naive Python loop query (ms)':<36}{naive_ms:>12.1f}")
    print(f"{'ratio naive / p50':<36}{naive_ms / p50:>12.1f}")
    print(f"{'same top-10 as naive':<36}{'yes' if agree else 'NO':>12}")
    print(f"{f'p50 under {REQUIRED_P50_MS:g} ms':<36}{'yes' if p50 < REQUIRED_P50_MS else 'NO':>12}")
    if args.json:
        print(json.dumps({
            "n": args.n, "dim": args.dim, "query_ms_p50": round(p50, 4), "query_ms_p99": round(p99, 4),
            "naive_python_query_ms": round(naive_ms, 2), "ratio": round(naive_ms / p50, 1),
        }))
    if not agree:
        sys.exit("the store and the naive loop disagree on the top-10")


if __name__ == "__main__":
    main()
