"""Run by test_batch_reliability under a low descriptor limit: a long batch, with the
process's descriptors, threads and memory before and after, printed as JSON."""

import json
import os
import resource
import sys
import threading


def counts(collect: bool = False) -> dict:
    """Descriptors, threads and memory now; ``collect``: after a full garbage collection
    (unreachable objects still holding descriptors, such as a finished process pool's
    pipes in a reference cycle, are not a leak: when the collector runs decides whether
    they are counted, in either direction)."""
    if collect:
        import gc

        gc.collect()
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": threading.active_count(),
            "os_threads": int(fields["Threads"]),
            "rss_mb": int(fields["VmRSS"].split()[0]) / 1024}


def settled(os_threads: int, seconds: float = 5.0) -> dict:
    """The counts once the operating system has let go of threads already joined.

    ``Thread.join`` returns when the thread's Python state is released, a moment before
    the OS thread itself exits; on a loaded machine /proc can still list it (CI saw one
    extra thread at the end of a run, with ``threading`` counting only the main one). A
    leak does not settle: its threads stay, and the counts taken after ``seconds`` show it.
    """
    import time

    deadline = time.monotonic() + seconds
    now = counts(collect=True)
    while now["os_threads"] > os_threads and time.monotonic() < deadline:
        time.sleep(0.05)
        now = counts(collect=True)
    return now


def fill_native_pools(data: str) -> None:
    """Bring pyarrow's two thread pools (CPU, I/O) to their full size before measuring.

    They start a thread only when more tasks are queued or running than they have
    threads, up to their capacity, so how many threads a read leaves depends on how its
    tasks happened to overlap: processes doing the same reads counted 6, 7 or 8 OS
    threads at rest, and a run could start one more than the runs before it (CI: end 8
    > start 7). That growth is pyarrow's and bounded, not a leak, but it is not what the
    probe measures. Each pool is capped at one thread, which any read starts, so after
    the warm-up they cannot grow; a large read, then the runner's own reading of the
    folder, make sure both have started it."""
    import io

    import pyarrow
    import pyarrow.csv

    from relief_kit.sources.tables import load_folder

    pyarrow.set_cpu_count(1)
    pyarrow.set_io_thread_count(1)
    pyarrow.csv.read_csv(io.BytesIO(b"a,b,c\n" + b"1,2,x\n" * 2_000_000))
    for _ in range(2):
        load_folder(data)


def lean_notebook(path: str) -> None:
    """The review notebook without its charts and sections: the same kernel traffic
    per case (parameters, open the case, publish its facts), a fraction of the time."""
    import nbformat

    from relief_kit.shell.batch import NOTEBOOK

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells = [c for c in notebook.cells if c.cell_type == "code" and (
        "parameters" in c.metadata.get("tags", []) or "import" in c.source
        or "open_case" in c.source or "publish_facts" in c.source)]
    nbformat.write(notebook, path)


def main() -> None:
    from relief_kit.shell.batch import run_batch

    data, archive, notebook = sys.argv[1], sys.argv[2], sys.argv[3]
    fill_native_pools(data)
    # Warm up: the first run imports and caches what any run needs once.
    run_batch(data, archive + "-warm", workers=2, request_ids=["R0001", "R0002"],
              notebook=notebook)
    start = counts(collect=True)
    peak = dict(start)

    def watch(outcome):
        now = counts()
        for key in peak:
            peak[key] = max(peak[key], now[key])

    # Two runs, half the requests each: what one run leaks, the second leaks again.
    from relief_kit.sources.tables import load_folder

    ids = list(load_folder(data).requests["request_id"])
    half = len(ids) // 2
    first = run_batch(data, archive, workers=2, progress=watch, notebook=notebook,
                      request_ids=ids[:half])
    middle = settled(start["os_threads"])
    second = run_batch(data, archive, workers=2, progress=watch, notebook=notebook,
                       request_ids=ids[half:])
    end = settled(middle["os_threads"])
    print(json.dumps({"limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0], "start": start,
                      "peak": peak, "middle": middle, "end": end,
                      "written": first.count("written") + second.count("written"),
                      "failed": [o.message for o in first.failed + second.failed],
                      "seconds": round(first.seconds + second.seconds, 1)}))


if __name__ == "__main__":
    main()
