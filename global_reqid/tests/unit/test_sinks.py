"""Sinks: the file sink never blocks, never loses a line silently, recovers.

Faults are real ones: a path that is a regular file, a full tmpfs (or
/dev/full where mounting is not allowed), a writer held up by a hook.
"""

import contextlib
import gzip
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from global_reqid.events import reader
from global_reqid.events import schema
from global_reqid.events import sinks

LOGGER = 'global_reqid.events.sinks'
EVENTS_LOGGER = sinks.LOGGER_NAME
HOST = 'node-1'
START = 1700000000.25


def _event(seq, **extra):
    event = {'v': 1, 'kind': 'server', 'service': 'image-api',
             'request_id': 'req-%036d' % seq, 'method': 'GET',
             'path': '/v2/images', 'status': 200, 'start': START + seq,
             'seq': seq}
    event.update(extra)
    return event


def _lines(path):
    with open(path, 'rb') as handle:
        return handle.read().splitlines()


def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _records(caplog, level):
    return [r for r in caplog.records
            if r.name == LOGGER and r.levelno == level]


@pytest.fixture
def make_sink(tmp_path):
    """Build FileSinks (host ``node-1``) that are closed after the test."""
    made = []

    def _make(directory=None, service='image-api', **kwargs):
        kwargs.setdefault('host', HOST)
        sink = sinks.FileSink(directory or tmp_path / 'events', service,
                              **kwargs)
        made.append(sink)
        return sink
    yield _make
    for sink in made:
        sink.close(timeout=2.0)


@pytest.fixture
def held_writer(monkeypatch):
    """A hook that holds the writer inside to_json until released."""
    entered = threading.Event()
    release = threading.Event()
    owner = os.getpid()
    to_json = schema.to_json

    def _held(event):
        if os.getpid() == owner:
            entered.set()
            release.wait(10)
        return to_json(event)
    monkeypatch.setattr(schema, 'to_json', _held)
    yield entered, release
    release.set()


@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs, or None where mounting is not allowed."""
    mountpoint = tmp_path / 'small'
    mountpoint.mkdir()
    mounted = subprocess.run(
        ['mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs',
         str(mountpoint)], capture_output=True).returncode == 0
    yield mountpoint if mounted else None
    if mounted:
        subprocess.run(['umount', '-l', str(mountpoint)], check=False)


def _fill(directory):
    """Fill the file system of ``directory``; return the filler's path."""
    filler = directory / 'filler'
    with open(filler, 'wb', buffering=0) as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(b'\0' * 4096)
    return filler


def test_written_lines_are_to_json_of_each_event(make_sink):
    """Each event is written as its to_json line, in order, one per line."""
    sink = make_sink()
    events = [_event(1), _event(2, path='/v2/ümages/%s'),
              _event(3, error='ValueError', status=500)]
    assert all(sink.emit(event) for event in events)
    assert sink.flush()
    assert _lines(sink.path) == [schema.to_json(e).encode() for e in events]
    assert sink.stats() == {
        'emitted': 3, 'written': 3, 'dropped_queue_full': 0,
        'dropped_io': 0, 'dropped_invalid': 0, 'io_errors': 0,
        'queued': 0}


def test_file_is_named_service_host_pid(tmp_path, monkeypatch):
    """The file is <service>.<short host>.<pid>.jsonl, names sanitized."""
    monkeypatch.setattr(socket, 'gethostname', lambda: 'node-7.example.org')
    sink = sinks.FileSink(tmp_path, 'image api/v2')
    assert sink.path == str(
        tmp_path / ('image_api_v2.node-7.%d.jsonl' % os.getpid()))
    odd = sinks.FileSink(tmp_path, 'nova', host='bad host!', pid=42)
    assert odd.path == str(tmp_path / 'nova.bad_host_.42.jsonl')


def test_no_thread_until_first_emit(make_sink):
    """Building a sink starts nothing; the first emit starts one writer."""
    def writers():
        return [t for t in threading.enumerate()
                if t.name == 'global-reqid-events-nova']
    sink = make_sink(service='nova')
    assert writers() == []
    sink.emit(_event(1))
    sink.emit(_event(2))
    assert len(writers()) == 1
    assert writers()[0].daemon
    sink.close()
    assert writers() == []


def test_import_has_no_side_effects():
    """Importing the module starts no thread and opens no file."""
    code = textwrap.dedent('''\
        import os, threading
        before = set(os.listdir('/proc/self/fd'))
        from global_reqid.events import sinks
        after = set(os.listdir('/proc/self/fd'))
        print(threading.active_count(), len(after - before))
    ''')
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         capture_output=True, text=True).stdout
    assert out.split() == ['1', '0']


def test_missing_directory_is_created_0750(tmp_path, make_sink):
    """A missing event directory is created, mode 0750; files are 0640."""
    umask = os.umask(0o022)
    try:
        sink = make_sink(tmp_path / 'a' / 'events')
        sink.emit(_event(1))
        assert sink.flush()
    finally:
        os.umask(umask)
    assert os.stat(tmp_path / 'a' / 'events').st_mode & 0o777 == 0o750
    assert os.stat(sink.path).st_mode & 0o777 == 0o640


def test_rotation_by_size_keeps_backup_count(make_sink, tmp_path):
    """Before a write would pass max_bytes the file rotates; N are kept."""
    line = len(schema.to_json(_event(10))) + 1
    sink = make_sink(max_bytes=line * 5, backup_count=2)
    for seq in range(10, 40):
        sink.emit(_event(seq))
        if seq % 7 == 0:
            assert sink.flush()
    assert sink.flush()
    names = sorted(os.listdir(tmp_path / 'events'))
    base = os.path.basename(sink.path)
    assert names == [base, base + '.1', base + '.2']
    for name in names:
        size = os.path.getsize(tmp_path / 'events' / name)
        assert 0 < size <= line * 5
    seqs = [e['seq'] for e in reader.iter_directory(tmp_path / 'events')]
    assert seqs == list(range(25, 40))


def test_max_bytes_zero_never_rotates(make_sink, tmp_path):
    """max_bytes 0 means one file that only grows."""
    sink = make_sink(max_bytes=0, backup_count=2)
    for seq in range(200):
        sink.emit(_event(seq))
    assert sink.flush()
    assert os.listdir(tmp_path / 'events') == [os.path.basename(sink.path)]
    assert len(_lines(sink.path)) == 200


def test_backup_count_zero_starts_over(make_sink, tmp_path):
    """With backup_count 0 a full file is removed, not kept."""
    line = len(schema.to_json(_event(10))) + 1
    sink = make_sink(max_bytes=line * 5, backup_count=0)
    for seq in range(10, 32):
        sink.emit(_event(seq))
    assert sink.flush()
    assert os.listdir(tmp_path / 'events') == [os.path.basename(sink.path)]
    assert [e['seq'] for e in reader.read_events(sink.path)] == [30, 31]


def test_compress_gzips_rotated_files(make_sink, tmp_path):
    """compress=True leaves <file>.N.gz, valid gzip, and no temp files."""
    line = len(schema.to_json(_event(10))) + 1
    sink = make_sink(max_bytes=line * 5, backup_count=3, compress=True)
    for seq in range(10, 32):
        sink.emit(_event(seq))
    assert sink.flush()
    base = os.path.basename(sink.path)
    assert sorted(os.listdir(tmp_path / 'events')) == [
        base, base + '.1.gz', base + '.2.gz', base + '.3.gz']
    with gzip.open(sink.path + '.1.gz', 'rb') as handle:
        assert handle.read().splitlines() == [
            schema.to_json(_event(seq)).encode() for seq in range(25, 30)]
    seqs = [e['seq'] for e in reader.iter_directory(tmp_path / 'events')]
    assert seqs == list(range(15, 32))


def test_full_queue_drops_and_counts(make_sink, held_writer, caplog):
    """A full queue drops at once, counts it, warns once, then recovers."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    entered, release = held_writer
    sink = make_sink(queue_size=10)
    assert sink.emit(_event(0))
    assert entered.wait(5)
    started = time.monotonic()
    results = [sink.emit(_event(seq)) for seq in range(1, 21)]
    assert time.monotonic() - started < 1.0
    assert results == [True] * 9 + [False] * 11
    stats = sink.stats()
    assert stats['dropped_queue_full'] == 11
    assert stats['queued'] == 10
    assert len(_records(caplog, logging.WARNING)) == 1
    release.set()
    assert sink.flush()
    assert sink.stats()['written'] == 10
    assert [e['seq'] for e in reader.read_events(sink.path)] == list(
        range(10))
    assert _wait_for(lambda: _records(caplog, logging.INFO))
    assert '11 dropped' in _records(caplog, logging.INFO)[0].getMessage()
    assert sink.emit(_event(99))


def test_unserializable_event_is_counted_not_fatal(make_sink):
    """An event to_json cannot serialize is dropped and counted."""
    sink = make_sink()
    loop = _event(1)
    loop['self'] = loop
    assert sink.emit(loop)
    assert sink.emit(_event(2))
    assert sink.flush()
    stats = sink.stats()
    assert (stats['dropped_invalid'], stats['written']) == (1, 1)
    assert len(_lines(sink.path)) == 1


@pytest.mark.parametrize('blocker', ['directory', 'parent'])
def test_unwritable_directory_drops_warns_once_and_recovers(
        tmp_path, make_sink, caplog, blocker):
    """A directory that cannot be made drops, warns once, then resumes."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    if blocker == 'directory':
        directory = tmp_path / 'events'
        in_the_way = directory
        expected = 'EEXIST'
    else:
        in_the_way = tmp_path / 'log'
        directory = in_the_way / 'events'
        expected = 'ENOTDIR'
    in_the_way.write_text('not a directory')
    sink = make_sink(directory)
    for seq in range(5):
        assert sink.emit(_event(seq))
        assert sink.flush()
    stats = sink.stats()
    assert (stats['written'], stats['dropped_io']) == (0, 5)
    # Attempts are at most once per second, not once per event.
    assert stats['io_errors'] == 1
    warnings = _records(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert sink.path in warnings[0].getMessage()
    assert expected in warnings[0].getMessage()
    in_the_way.unlink()

    def written():
        sink.emit(_event(100))
        sink.flush()
        return sink.stats()['written'] > 0
    assert _wait_for(written, timeout=5.0)
    assert len(_records(caplog, logging.WARNING)) == 1
    recovered = _records(caplog, logging.INFO)
    assert len(recovered) == 1
    assert 'again' in recovered[0].getMessage()
    stats = sink.stats()
    assert stats['emitted'] == (stats['written'] + stats['dropped_io']
                                + stats['queued'])
    assert [e['seq'] for e in reader.read_events(sink.path)] == [100]


def test_disk_full_drops_and_recovers(small_fs, tmp_path, make_sink, caplog):
    """ENOSPC drops and counts, leaves no partial line, then resumes."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    if small_fs is None:
        # Fallback where mounting is not allowed: the kernel's /dev/full.
        directory = tmp_path / 'events'
        directory.mkdir()
        sink = make_sink(directory)
        os.symlink('/dev/full', sink.path)
        filler = None
    else:
        directory = small_fs / 'events'
        sink = make_sink(directory, max_bytes=0)
        assert sink.emit(_event(0))
        assert sink.flush()
        filler = _fill(small_fs)
        # Two pages of room: less than one line, so a write is cut short.
        os.truncate(filler, os.path.getsize(filler) - 8192)
    # Bigger than any room left: a write cut short must be undone.
    big = _event(1, pad='x' * 16384)
    for seq in range(1, 4):
        assert sink.emit(dict(big, seq=seq))
        assert sink.flush()
    stats = sink.stats()
    assert stats['dropped_io'] == 3
    warnings = _records(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert 'ENOSPC' in warnings[0].getMessage()
    if filler is None:
        os.unlink(sink.path)
    else:
        os.unlink(filler)

    def written():
        sink.emit(_event(100))
        sink.flush()
        return sink.stats()['written'] > (0 if filler is None else 1)
    assert _wait_for(written, timeout=5.0)
    stats = reader.new_stats()
    seqs = [e['seq'] for e in reader.read_events(sink.path, stats)]
    assert stats['skipped'] == 0
    assert seqs[-1] == 100
    assert 1 not in seqs
    assert len(_records(caplog, logging.INFO)) == 1


def test_file_ending_mid_line_is_finished_first(make_sink, tmp_path):
    """Appending to a file cut mid-line starts on a fresh line."""
    sink = make_sink(pid=4242)
    os.makedirs(sink.directory)
    with open(sink.path, 'wb') as handle:
        handle.write(schema.to_json(_event(1)).encode() + b'\n{"v":1,"se')
    sink.emit(_event(2))
    assert sink.flush()
    stats = reader.new_stats()
    assert [e['seq'] for e in reader.read_events(sink.path, stats)] == [1, 2]
    assert stats['skipped'] == 1


def test_forked_child_starts_empty_with_its_own_file(make_sink,
                                                      held_writer):
    """A forked child has an empty queue, its own writer and pid file."""
    entered, release = held_writer
    sink = make_sink()
    parent_path = sink.path
    sink.emit(_event(1))
    assert entered.wait(5)
    sink.emit(_event(2))  # queued behind the held writer at fork time
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ok = (sink.stats()['emitted'] == 0 and sink.pid == os.getpid()
                  and sink.emit(_event(3, who='child'))
                  and sink.flush(5.0))
            code = 0 if ok else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    child_path = os.path.join(sink.directory,
                              'image-api.%s.%d.jsonl' % (HOST, pid))
    assert [(e['seq'], e.get('who')) for e in reader.read_events(
        child_path)] == [(3, 'child')]
    release.set()
    assert sink.flush()
    assert sink.path == parent_path
    assert [e['seq'] for e in reader.read_events(parent_path)] == [1, 2]


def test_sink_built_before_fork_names_child_file(make_sink):
    """A sink built, never started, then forked writes the child's file."""
    sink = make_sink()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ok = sink.emit(_event(1, who='child')) and sink.flush(5.0)
            code = 0 if ok else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    child_path = os.path.join(sink.directory,
                              'image-api.%s.%d.jsonl' % (HOST, pid))
    assert [e['who'] for e in reader.read_events(child_path)] == ['child']
    assert not os.path.exists(sink.path)
    assert sink.path.endswith('.%d.jsonl' % os.getpid())


def test_flush_on_exit(tmp_path):
    """Events still queued when the interpreter exits are written."""
    code = textwrap.dedent('''\
        import sys
        from global_reqid.events import sinks
        sink = sinks.FileSink(sys.argv[1], 'exiting', host='h', pid=7)
        for seq in range(3000):
            sink.emit({'v': 1, 'seq': seq})
    ''')
    subprocess.run([sys.executable, '-c', code, str(tmp_path)], check=True)
    seqs = [e['seq'] for e in reader.read_events(
        tmp_path / 'exiting.h.7.jsonl')]
    assert seqs == list(range(3000))


def test_close_stops_writer_and_next_emit_restarts(make_sink):
    """close() flushes and stops the writer; a later emit starts one."""
    sink = make_sink(service='closing')
    sink.emit(_event(1))
    assert sink.close()
    assert not [t for t in threading.enumerate()
                if t.name == 'global-reqid-events-closing']
    assert sink.emit(_event(2))
    assert sink.flush()
    assert [e['seq'] for e in reader.read_events(sink.path)] == [1, 2]


def test_log_sink_record(caplog):
    """The log sink writes one record: message and attribute the line."""
    caplog.set_level(logging.INFO, logger=EVENTS_LOGGER)
    event = _event(1, path='/v2/%s%d')
    assert sinks.LogSink().emit(event)
    [record] = [r for r in caplog.records if r.name == EVENTS_LOGGER]
    assert record.levelno == logging.INFO
    assert record.getMessage() == schema.to_json(event)
    assert record.global_reqid_event == schema.to_json(event)


def test_log_sink_disabled_logger_skips_serializing(caplog, monkeypatch):
    """A logger not enabled for the level costs no serialization."""
    caplog.set_level(logging.WARNING, logger=EVENTS_LOGGER)

    def _fail(event):
        raise AssertionError('serialized')
    monkeypatch.setattr(schema, 'to_json', _fail)
    assert sinks.LogSink().emit(_event(1)) is False


def test_log_sink_never_raises(caplog):
    """An event that cannot be serialized is not logged, not raised."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    loop = _event(1)
    loop['self'] = loop
    assert sinks.LogSink(level=logging.INFO).emit(loop) is False


def test_none_sink_discards():
    """The none sink accepts and keeps nothing."""
    assert sinks.NoneSink().emit(_event(1)) is True


def test_make_sinks_builds_what_is_named(tmp_path):
    """make_sinks builds each named sink once, passing the file options."""
    made = sinks.make_sinks(
        'file, log,file', service='nova', directory=tmp_path,
        max_bytes=10, backup_count=2, compress=True, queue_size=5)
    assert [type(s) for s in made] == [sinks.FileSink, sinks.LogSink]
    assert (made[0].max_bytes, made[0].backup_count, made[0].compress,
            made[0].queue_size) == (10, 2, True, 5)
    assert made[0].service == 'nova'
    assert [type(s) for s in sinks.make_sinks(
        ['none'], service='nova', directory=tmp_path)] == [sinks.NoneSink]


@pytest.mark.parametrize('names,message', [
    (['file', 'syslog'], "unknown sink 'syslog'; valid sinks: file, log, "
                         "none"),
    (['none', 'log'], "'none' cannot be combined with other sinks"),
])
def test_make_sinks_rejects(tmp_path, names, message):
    """An unknown name, or none with another, is a one-line ValueError."""
    with pytest.raises(ValueError) as caught:
        sinks.make_sinks(names, service='nova', directory=tmp_path)
    assert str(caught.value).startswith(message)
    assert '\n' not in str(caught.value)


def test_bad_sizes_are_rejected(tmp_path):
    """Negative sizes and an empty queue are errors at construction."""
    with pytest.raises(ValueError):
        sinks.FileSink(tmp_path, 'nova', queue_size=0)
    with pytest.raises(ValueError):
        sinks.FileSink(tmp_path, 'nova', max_bytes=-1)
