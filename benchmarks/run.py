"""Per-request overhead of our filter against oslo.middleware's RequestId.

The filters wrap the same trivial WSGI app and are driven in-process the
way a server drives them: a fresh copy of a prepared environ per request,
``app(environ, start_response)``, the body iterated and closed. Subjects:
the bare app, oslo's filter (the anchor), ours with recording off
(``event_sinks = none``) and ours with recording on (the file sink with its
default settings, in a temporary directory). Rounds are interleaved, so
drift on a shared machine hits all alike. Two CPU times are taken per
round: the request thread's (what each request pays: the per-request
overhead the targets are about) and the whole process's (the event writer
thread included; a recording round ends with a flush, so the writing of
its events is counted). Overheads are medians over rounds minus the bare
app's median, and the verdicts are ratios to oslo, never absolute times.

Run: ``python benchmarks/run.py [--rounds N] [--requests N] [--json]
[--check]`` (or ``tox -e bench``); see benchmarks/README.md.
"""

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import time

from oslo_middleware import request_id as oslo_request_id

from global_reqid import ids
from global_reqid import middleware

#: Each of ours may add at most this fraction of oslo's overhead.
TARGETS = {"ours": 0.5, "recording": 1.0}
SUBJECTS = ("bare", "oslo", "ours", "recording")
#: What each round measures: the targets are about the first.
METRICS = ("request", "process")
#: The inbound header each variant sends (None: no header at all).
VARIANTS = {
    "valid": "req-3f2a9c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f",
    "none": None,
    # NOTE: invalid for oslo too (a trailing newline would not be), and
    # long, like the value that makes glance answer 500 today.
    "invalid": "bogus-" + "x" * 94,
}


def _trivial_app(environ, start_response):
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")]
    )
    return [b"OK"]


def _write(data):
    pass


def _start_response(status, headers, exc_info=None):
    return _write


def base_environ(inbound):
    """The environ a WSGI server builds for ``GET /v2/images``."""
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/v2/images",
        "QUERY_STRING": "limit=20",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "9292",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost:9292",
        "HTTP_ACCEPT": "application/json",
        "HTTP_USER_AGENT": "python-glanceclient",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if inbound is not None:
        environ[ids.HTTP_REQUEST_ID] = inbound
    return environ


def build_apps(event_dir):
    """The subjects, each around the same trivial app."""
    return {
        "bare": _trivial_app,
        "oslo": oslo_request_id.RequestId(_trivial_app),
        "ours": middleware.RequestId(
            _trivial_app, {"service_name": "bench", "event_sinks": "none"}
        ),
        "recording": middleware.RequestId(
            _trivial_app, {"service_name": "bench", "event_dir": event_dir}
        ),
    }


def serve(app, base, requests):
    """Serve ``requests`` requests as a server would.

    Returns the microseconds per request of the request thread's CPU time
    and of the process's CPU time (writer thread included).
    """
    # NOTE: CPU time, not wall time: on a shared machine the time other
    # processes hold the CPU is not ours or oslo's.
    start = time.thread_time_ns()
    start_process = time.process_time_ns()
    for _ in range(requests):
        environ = base.copy()
        environ["wsgi.input"] = io.BytesIO()
        result = app(environ, _start_response)
        try:
            for _chunk in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    thread = time.thread_time_ns() - start
    flush = getattr(app, "flush", None)
    if flush is not None:
        flush(60)
    process = time.process_time_ns() - start_process
    return thread / requests / 1000.0, process / requests / 1000.0


def _answers_id(app, base):
    """Tell whether ``app`` answers an X-OpenStack-Request-ID header."""
    seen = []

    def start_response(status, headers, exc_info=None):
        seen.extend(name.lower() for name, _ in headers)

    result = app(base.copy(), start_response)
    if hasattr(result, "close"):
        result.close()
    return "x-openstack-request-id" in seen


def measure(rounds, requests, event_dir):
    """Interleaved per-request times: {variant: {subject: [us per round]}}."""
    apps = build_apps(event_dir)
    bases = {v: base_environ(h) for v, h in VARIANTS.items()}
    for base in bases.values():
        for name in ("oslo", "ours", "recording"):
            if not _answers_id(apps[name], base):  # benchmark a real filter
                raise RuntimeError("%s answered no request id" % name)
        for app in apps.values():  # warm up caches and lazy imports
            serve(app, base, min(requests, 200))
    times = {m: {v: {s: [] for s in SUBJECTS} for v in VARIANTS}
             for m in METRICS}
    for r in range(rounds):
        # NOTE: rotate the order too, so no subject always runs first.
        k = r % len(SUBJECTS)
        order = SUBJECTS[k:] + SUBJECTS[:k]
        for variant, base in bases.items():
            for subject in order:
                for metric, value in zip(
                    METRICS, serve(apps[subject], base, requests), strict=True
                ):
                    times[metric][variant][subject].append(value)
    stats = apps["recording"].event_stats["FileSink"]
    return times, stats


def summarize(times, targets=TARGETS):
    """Medians, overheads over the bare app and the ratios to oslo."""
    rows = {}
    worst = {name: 0.0 for name in targets}
    for variant, by_subject in times.items():
        med = {s: statistics.median(t) for s, t in by_subject.items()}
        oslo = med["oslo"] - med["bare"]
        row = {"median_us": med, "oslo_overhead_us": oslo}
        for name in targets:
            ours = med[name] - med["bare"]
            ratio = ours / oslo if oslo > 0 else float("inf")
            # Per-round ratios, paired within a round: the spread shows
            # noise.
            paired = sorted(
                (a - b) / (o - b)
                for b, o, a in zip(
                    by_subject["bare"], by_subject["oslo"], by_subject[name],
                    strict=True,
                )
                if o > b
            )
            q = statistics.quantiles(paired, n=4) if len(paired) > 1 else None
            row[name] = {
                "overhead_us": ours,
                "ratio": ratio,
                "ratio_iqr": [q[0], q[2]] if q else None,
            }
            worst[name] = max(worst[name], ratio)
        rows[variant] = row
    return {
        "targets": targets,
        "worst_ratio": worst,
        "passed": all(worst[n] <= t for n, t in targets.items()),
        "variants": rows,
    }


TITLES = {
    "request": "per-request overhead over the bare app, request thread CPU "
    "(us)",
    "process": "the same in process CPU, event writer thread included (us)",
}


def render(summaries, rounds, requests, stats):
    """The human tables."""
    lines = ["median of %d interleaved rounds x %d requests" % (rounds,
                                                              requests)]
    for metric, summary in summaries.items():
        lines += [""] + _table(TITLES[metric], summary)
        if metric != "request":
            continue
        for name, target in summary["targets"].items():
            worst = summary["worst_ratio"][name]
            lines.append(
                "%s: %s worst ratio %.3f, target <= %.2f x oslo"
                % ("PASS" if worst <= target else "FAIL", name, worst,
                   target)
            )
    lines.append(
        "events written %d, dropped %d (queue full) + %d (I/O)"
        % (stats["written"], stats["dropped_queue_full"],
           stats["dropped_io"])
    )
    return "\n".join(lines)


def _table(title, summary):
    lines = [
        title,
        "%-8s %8s %8s %10s %14s %10s %10s %14s"
        % ("header", "oslo", "ours", "ours/oslo", "round IQR",
           "recording", "rec/oslo", "round IQR"),
    ]
    for variant, row in summary["variants"].items():
        cells = []
        for name in ("ours", "recording"):
            iqr = row[name]["ratio_iqr"]
            cells += [row[name]["overhead_us"], row[name]["ratio"],
                      "%.3f-%.3f" % tuple(iqr) if iqr else "-"]
        lines.append(
            "%-8s %8.2f %8.2f %10.3f %14s %10.2f %10.3f %14s"
            % (variant, row["oslo_overhead_us"], *cells)
        )
    return lines


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--rounds", type=_positive, default=21, help="default: 21")
    add("--requests", type=_positive, default=1000, help="per round")
    add("--json", action="store_true", help="machine-readable output")
    add("--check", action="store_true", help="exit 1 if a ratio > target")
    args = parser.parse_args(argv)

    event_dir = tempfile.mkdtemp(prefix="global-reqid-bench-")
    try:
        times, stats = measure(args.rounds, args.requests, event_dir)
    finally:
        shutil.rmtree(event_dir, ignore_errors=True)
    summaries = {metric: summarize(times[metric]) for metric in METRICS}
    if args.json:
        print(json.dumps(dict(summaries, rounds=args.rounds,
                              requests=args.requests, event_stats=stats),
                         indent=2, sort_keys=True))
    else:
        print(render(summaries, args.rounds, args.requests, stats))
    return 1 if args.check and not summaries["request"]["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
