"""The benchmark suite of resend-worker: ``python -m bench`` (full) or ``python -m bench --quick``.

Speed and memory are proven here, on the real worker process, against a fake AWS endpoint (CPU)
or the devstack (quota, latency, duplicates); see docs/benchmarks.md for what each item measures.
"""
