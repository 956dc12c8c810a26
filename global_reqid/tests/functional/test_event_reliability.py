"""Event files under load and under SIGKILL: nothing lost, nothing mixed.

Writers are real processes (``python -c``), each with its own FileSink,
all writing into one directory, as the prefork workers of a service do.
"""

import collections
import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from global_reqid.events import reader
from global_reqid.events import sinks

PROCESSES = 4
THREADS = 4
EVENTS = 5000
# The host part of file names, as the sink makes it.
HOST = sinks.FileSink(os.curdir, 'any').host

WRITER = textwrap.dedent('''\
    import json, sys, threading, time
    from global_reqid.events import sinks
    directory, proc = sys.argv[1], int(sys.argv[2])
    # Room for every event of the process: this test is about lines, the
    # unit tests cover what a full queue drops.
    sink = sinks.FileSink(directory, 'svc%d' % proc, max_bytes=1 << 20,
                          backup_count=50, compress=proc % 2 == 1,
                          queue_size=THREADS * EVENTS)
    barrier = threading.Barrier(THREADS)
    refused = []

    def run(thread):
        barrier.wait()
        for seq in range(EVENTS):
            event = {'v': 1, 'kind': 'server', 'service': 'svc%d' % proc,
                     'request_id': 'req-%08d-%04d-%024d' % (proc, thread,
                                                           seq),
                     'method': 'GET', 'path': '/v2/images/%d' % seq,
                     'status': 200, 'start': time.time(), 'proc': proc,
                     'thread': thread, 'seq': seq, 'pad': 'é' * 100}
            if not sink.emit(event):
                refused.append(seq)

    threads = [threading.Thread(target=run, args=(t,))
               for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flushed = sink.flush(30)
    print(json.dumps(dict(sink.stats(), refused=len(refused),
                          flushed=flushed)))
''').replace('THREADS', str(THREADS)).replace('EVENTS', str(EVENTS))

VICTIM = textwrap.dedent('''\
    import sys
    from global_reqid.events import sinks
    sink = sinks.FileSink(sys.argv[1], 'victim', max_bytes=0,
                          queue_size=4)
    pad = 'x' * (4 << 20)
    seq = 0
    while True:
        if sink.emit({'v': 1, 'kind': 'server', 'seq': seq, 'pad': pad}):
            seq += 1
        sink.flush()
''')


FILTER_SERVER = textwrap.dedent('''\
    import json, sys, threading
    from global_reqid import middleware
    directory, proc, answered_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    def app(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'ok']

    # Default event settings but the directory, and room for every event:
    # a full queue is covered by the unit tests.
    filt = middleware.RequestId(app, {
        'service_name': 'api%d' % proc, 'event_dir': directory,
        'event_queue_size': str(THREADS * EVENTS)})
    barrier = threading.Barrier(THREADS)
    answered = [[] for _ in range(THREADS)]

    def run(thread):
        barrier.wait()
        for seq in range(EVENTS):
            headers = {}

            def start_response(status, response_headers, exc_info=None):
                headers.update(response_headers)
            body = filt({'REQUEST_METHOD': 'GET',
                         'PATH_INFO': '/v2/images/%d' % seq,
                         'SCRIPT_NAME': ''}, start_response)
            assert b''.join(body) == b'ok'
            answered[thread].append(headers['X-OpenStack-Request-ID'])

    threads = [threading.Thread(target=run, args=(t,))
               for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(answered_file, 'w') as out:
        json.dump(answered, out)
    flushed = filt.flush(60)
    print(json.dumps(dict(filt.event_stats['FileSink'], flushed=flushed)))
''').replace('THREADS', str(THREADS)).replace('EVENTS', str(EVENTS))


def test_requests_through_the_filter_all_recorded(tmp_path):
    """4 processes x 4 threads x 5,000 requests: 80,000 events, one each."""
    events_dir = tmp_path / 'events'
    procs = [subprocess.Popen(
        [sys.executable, '-c', FILTER_SERVER, str(events_dir), str(proc),
         str(tmp_path / ('answered%d.json' % proc))],
        stdout=subprocess.PIPE, text=True) for proc in range(PROCESSES)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * PROCESSES
    for output in outputs:
        stats = json.loads(output)
        assert stats['flushed'] and stats['written'] == THREADS * EVENTS
    answered = set()
    for proc in range(PROCESSES):
        with open(tmp_path / ('answered%d.json' % proc)) as handle:
            for ids_of_thread in json.load(handle):
                answered.update(ids_of_thread)
    assert len(answered) == PROCESSES * THREADS * EVENTS
    stats = reader.new_stats()
    recorded = collections.Counter(
        e['request_id'] for e in reader.iter_directory(events_dir, stats))
    assert stats['skipped'] == 0
    assert set(recorded) == answered and set(recorded.values()) == {1}


def _raw_lines(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as handle:
        data = handle.read()
    assert data.endswith(b'\n'), path
    return data[:-1].split(b'\n')


def test_four_processes_four_threads_lose_and_mix_nothing(tmp_path):
    """4 processes x 4 threads x 5,000 events: all on disk, each line whole.

    Half the processes gzip their rotated files; every file rotates.
    """
    procs = [subprocess.Popen(
        [sys.executable, '-c', WRITER, str(tmp_path), str(proc)],
        stdout=subprocess.PIPE, text=True) for proc in range(PROCESSES)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * PROCESSES
    for output in outputs:
        stats = json.loads(output)
        assert stats['flushed'] and stats['refused'] == 0, stats
        assert stats['written'] == THREADS * EVENTS, stats

    paths = list(reader.events_files(tmp_path))
    assert {os.path.basename(p).split('.jsonl')[0] for p in paths} == {
        'svc%d.%s.%d' % (proc, HOST, procs[proc].pid)
        for proc in range(PROCESSES)}
    assert any(p.endswith('.gz') for p in paths)
    assert any(p.endswith('.jsonl.1') for p in paths)
    total = 0
    for path in paths:
        for line in _raw_lines(path):
            event = json.loads(line)
            assert isinstance(event, dict)
            total += 1
    assert total == PROCESSES * THREADS * EVENTS

    last = {}
    seen = collections.Counter()
    stats = reader.new_stats()
    for event in reader.iter_directory(tmp_path, stats):
        key = (event['proc'], event['thread'])
        seen[key + (event['seq'],)] += 1
        # Each thread's events are on disk in the order it emitted them.
        assert event['seq'] == last.get(key, -1) + 1
        last[key] = event['seq']
    assert stats == {'events': total, 'skipped': 0}
    assert len(seen) == PROCESSES * THREADS * EVENTS
    assert set(seen.values()) == {1}


def _only_file(directory):
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return None
    return directory / names[0] if names else None


def _mid_line(path):
    with open(path, 'rb') as handle:
        size = os.fstat(handle.fileno()).st_size
        return size > (8 << 20) and os.pread(
            handle.fileno(), 1, size - 1) != b'\n'


def test_sigkill_mid_write_damages_at_most_the_last_line(tmp_path):
    """A writer killed mid-write leaves whole lines but the last."""
    cut_short = 0
    for attempt in range(3):
        directory = tmp_path / str(attempt)
        victim = subprocess.Popen(
            [sys.executable, '-c', VICTIM, str(directory)])
        path = None
        deadline = time.monotonic() + 10
        try:
            # Kill when a write is seen in progress (the file ends
            # mid-line), or at the deadline.
            while time.monotonic() < deadline:
                path = path or _only_file(directory)
                if path is not None and _mid_line(path):
                    break
                time.sleep(0.0005)
            os.kill(victim.pid, signal.SIGKILL)
        finally:
            victim.kill()
            victim.wait()
        assert path is not None, 'the victim wrote nothing'
        assert path.name == 'victim.%s.%d.jsonl' % (HOST, victim.pid)
        with open(path, 'rb') as handle:
            data = handle.read()
        lines = data.split(b'\n')
        *whole, last = lines
        for line in whole:
            assert json.loads(line)['pad'] == 'x' * (4 << 20)
        cut_short += last != b''
        stats = reader.new_stats()
        seqs = [e['seq'] for e in reader.read_events(path, stats)]
        assert seqs == list(range(len(whole)))
        assert stats['skipped'] == (1 if last else 0)
        os.unlink(path)
    # Otherwise the skipping above was never put to the test.
    assert cut_short >= 1
