"""The scanner finds every line holding an id once, in order, fast."""

import gzip
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading

import pytest

from global_reqid.trace import model
from global_reqid.trace import scan
from global_reqid.trace import sources

SAMPLES = '/work/shared/samples'
ID = b'423d23a0-4119-4cba-9776-57197970d605'
OTHER = b'cf0b7845-1451-461d-8d4b-dc7b4ab5bc1a'


def _expected(data, needles):
    """The slow, obvious answer: split every line and test it."""
    out = []
    offset = 0
    for line in data.split(b'\n'):
        if any(needle in line for needle in needles):
            out.append((offset, line[:-1] if line.endswith(b'\r') else line))
        offset += len(line) + 1
    return out


def _sources(*paths):
    found, warnings = sources.expand(logs=[str(p) for p in paths])
    assert warnings == []
    return found


def _find(paths, needles, **kwargs):
    stats = model.Stats()
    lines = scan.find(_sources(*paths), needles, stats, **kwargs)
    return lines, stats


def _pairs(lines):
    return [(line.offset, line.data) for line in lines]


def _corpus(lines=3000, every=7, extra=b''):
    """oslo-like lines; every ``every``-th holds ID, some both ids."""
    out = []
    for n in range(lines):
        ctx = ID if n % every == 0 else b'%032x' % (n * 7919)
        tail = (b' and ' + OTHER) if n % (every * 3) == 0 else b''
        out.append(b'2026-11-23 17:18:%02d.%03d 11117 DEBUG glance.api '
                   b'[req-%s None u p - default default] line %d%s%s'
                   % (n % 60, n % 1000, ctx, n, tail, extra * (n % 5)))
    return b'\n'.join(out) + b'\n'


def test_lines_at_start_end_and_without_final_newline(tmp_path):
    """First line, last line without a newline: found, offsets exact."""
    data = (b'req-' + ID + b' first\nnothing here\r\nmiddle ' + ID +
            b'\r\nlast ' + ID)
    path = tmp_path / 'a.log'
    path.write_bytes(data)
    lines, stats = _find([path], [ID], jobs=0)
    assert _pairs(lines) == _expected(data, [ID])
    assert [line.offset for line in lines] == [0, data.index(b'middle'),
                                               data.index(b'last')]
    assert lines[1].data.endswith(ID)      # '\r' stripped
    assert all(line.source == str(path) for line in lines)
    assert (stats.files, stats.bytes, stats.lines, stats.matched) == (
        1, len(data), 4, 3)


def test_real_sample_logs_match_the_slow_answer(tmp_path):
    """On the real keystone and glance logs, the same lines as a loop."""
    paths = [os.path.join(SAMPLES, name) for name in
             ('keystone.log', 'glance-api.log', 'glance-access.log')]
    lines, stats = _find(paths, [ID, OTHER], jobs=0)
    expected = []
    for path in paths:
        with open(path, 'rb') as handle:
            expected += [(path, o, d) for o, d in
                         _expected(handle.read(), [ID, OTHER])]
    assert [(x.source, x.offset, x.data) for x in lines] == expected
    assert len(expected) > 20
    assert stats.lines == sum(
        open(p, 'rb').read().count(b'\n') for p in paths)


def test_several_needles_on_one_line_give_it_once(tmp_path):
    """A line holding two ids is returned once, lines stay in order."""
    data = _corpus(300)
    path = tmp_path / 'a.log'
    path.write_bytes(data)
    lines, stats = _find([path], [OTHER, ID, ID], jobs=0)
    assert _pairs(lines) == _expected(data, [ID, OTHER])
    both = [x for x in lines if ID in x.data and OTHER in x.data]
    assert both and stats.matched == len(lines)


@pytest.mark.parametrize('memmem', [True, False])
@pytest.mark.parametrize('chunk', [97, 1000, 4096, 65537])
def test_worker_ranges_find_boundary_lines_once(tmp_path, monkeypatch,
                                                chunk, memmem):
    """Ranges cut lines anywhere; forked workers find each line once,
    with the C library's memmem and with bytes.find alike."""
    if not memmem:
        monkeypatch.setattr(scan, '_MEMMEM', [None])
    assert (scan._memmem() is not None) == memmem
    data = _corpus(2000, every=3, extra=b'x' * 50)
    path = tmp_path / 'a.log'
    path.write_bytes(data)
    pids = tmp_path / 'pids'
    real = scan._run_task

    def recording(task, *args):
        with open(pids, 'a') as handle:
            handle.write('%d\n' % os.getpid())
        return real(task, *args)

    scan._run_task = recording
    try:
        lines, stats = _find([path], [ID, OTHER], jobs=2, chunk_size=chunk)
    finally:
        scan._run_task = real
    assert _pairs(lines) == _expected(data, [ID, OTHER])
    assert stats.bytes == len(data) and stats.warnings == []
    workers = set(pids.read_text().split())
    # Ranges ran in forked workers only (which worker takes which range
    # is up to the scheduler: one fast worker may take them all).
    assert workers and str(os.getpid()) not in workers
    assert len(workers) <= 2
    # The same ranges read in this process (the fallback path).
    lines, _ = _find([path], [ID, OTHER], jobs=0, chunk_size=chunk,
                     block_size=chunk // 2 + 1)
    assert _pairs(lines) == _expected(data, [ID, OTHER])


def test_default_jobs_fork_for_big_inputs_only(tmp_path, monkeypatch):
    """Small inputs are scanned in-process; big ones by workers."""
    data = _corpus(500)
    path = tmp_path / 'a.log'
    path.write_bytes(data)
    pids = tmp_path / 'pids'
    real = scan._run_task

    def recording(task, *args):
        with open(pids, 'a') as handle:
            handle.write('%d\n' % os.getpid())
        return real(task, *args)

    monkeypatch.setattr(scan, '_run_task', recording)
    small, _ = _find([path], [ID])
    assert set(pids.read_text().split()) == {str(os.getpid())}
    pids.unlink()
    monkeypatch.setattr(scan, 'SMALL_INPUT', len(data) // 2)
    big, _ = _find([path], [ID], chunk_size=len(data) // 4)
    assert _pairs(big) == _pairs(small) == _expected(data, [ID])
    assert str(os.getpid()) not in pids.read_text().split()


def test_a_dead_worker_s_range_is_scanned_again(tmp_path, monkeypatch):
    """A worker killed mid-task (as SIGBUS would): nothing is lost."""
    data = _corpus(1000)
    path = tmp_path / 'a.log'
    path.write_bytes(data)
    parent = os.getpid()
    real = scan._run_task

    def dying(task, *args):
        if os.getpid() != parent and task.id == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(task, *args)

    monkeypatch.setattr(scan, '_run_task', dying)
    lines, stats = _find([path], [ID], jobs=2, chunk_size=len(data) // 5)
    assert _pairs(lines) == _expected(data, [ID])
    assert any('scan worker killed by signal %d' % signal.SIGKILL in w
               for w in stats.warnings)


def test_file_truncated_under_a_worker_s_map(tmp_path, monkeypatch):
    """Truncated while mapped (copytruncate): the worker dies of SIGBUS,
    the parent reads what is left and says the file changed."""
    if scan._memmem() is None:
        pytest.skip('no memmem here')
    data = _corpus(4000)
    path = tmp_path / 'a.log'
    path.write_bytes(data)
    cut = len(data) // 8
    real = scan._matching_lines_memmem

    def truncating(*args):
        os.truncate(path, cut)
        return real(*args)

    monkeypatch.setattr(scan, '_matching_lines_memmem', truncating)
    lines, stats = _find([path], [ID], jobs=1, chunk_size=len(data) // 4)
    assert _pairs(lines) == _expected(data[:cut], [ID])
    assert stats.warnings == [
        'global-reqid-trace: warning: %s: changed during the scan' % path]


def test_file_truncated_before_mapping_is_read_instead(tmp_path,
                                                       monkeypatch):
    """A file that shrinks during the scan: a warning, what is left."""
    data = _corpus(1000)
    path = tmp_path / 'a.log'
    path.write_bytes(data)
    real = scan._plan

    def truncating(*args):
        tasks = real(*args)
        os.truncate(path, len(data) // 2)
        return tasks

    monkeypatch.setattr(scan, '_plan', truncating)
    lines, stats = _find([path], [ID], jobs=1, chunk_size=len(data) // 3)
    half = data[:len(data) // 2]
    assert _pairs(lines) == _expected(half, [ID])
    assert ('global-reqid-trace: warning: %s: changed during the scan'
            % path) in stats.warnings


def test_crlf_lines(tmp_path):
    """CRLF files: the '\\r' is stripped, offsets count it."""
    data = _corpus(200).replace(b'\n', b'\r\n')
    path = tmp_path / 'win.log'
    path.write_bytes(data)
    for jobs in (0, 2):
        lines, _ = _find([path], [ID], jobs=jobs, chunk_size=333)
        assert _pairs(lines) == _expected(data, [ID])
        assert not any(x.data.endswith(b'\r') for x in lines)


@pytest.mark.parametrize('block', [64, 1000, 1 << 20])
def test_gzip_single_and_multi_member(tmp_path, block):
    """gzip, several members cutting a line, zero padding: same as the
    plain text."""
    data = _corpus(2000)
    cut = data.index(ID, len(data) // 3) + 5    # inside a matching line
    path = tmp_path / 'a.log.1.gz'
    # Zero padding after a member (tape blocking) is not damage.
    path.write_bytes(gzip.compress(data[:cut]) + gzip.compress(data[cut:])
                     + b'\x00' * 512)
    one = tmp_path / 'b.log.2.gz'
    one.write_bytes(gzip.compress(data))
    for jobs in (0, 2):
        lines, stats = _find([path, one], [ID], jobs=jobs, block_size=block)
        expected = _expected(data, [ID])
        assert _pairs(x for x in lines if x.source == str(one)) == expected
        assert _pairs(x for x in lines if x.source == str(path)) == expected
        assert stats.bytes == 2 * len(data) and stats.warnings == []
        assert stats.lines == 2 * 2000


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    """A gzip cut short: lines before the cut, one warning."""
    data = _corpus(5000)
    packed = gzip.compress(data)
    path = tmp_path / 'a.log.gz'
    path.write_bytes(packed[:len(packed) // 2])
    lines, stats = _find([path], [ID], jobs=0, block_size=4096)
    got = _pairs(lines)
    full = _expected(data, [ID])
    assert 0 < len(got) < len(full)
    assert got == full[:len(got)]
    assert stats.warnings == [
        'global-reqid-trace: warning: %s: truncated gzip file, read up to '
        'the cut' % path]


def test_damaged_gzip_warns_once(tmp_path):
    """Garbage after a gzip member: what came before, one warning."""
    data = _corpus(300)
    path = tmp_path / 'a.log.gz'
    path.write_bytes(gzip.compress(data) + b'this is not gzip\n' * 3)
    lines, stats = _find([path], [ID], jobs=0)
    assert _pairs(lines) == _expected(data, [ID])
    assert len(stats.warnings) == 1 and 'damaged gzip' in stats.warnings[0]


def test_stdin_of_a_real_process():
    """'-' reads the process's standard input, in blocks."""
    data = _corpus(3000)
    code = textwrap.dedent('''
        import json, sys
        from global_reqid.trace import model, scan, sources
        found, _ = sources.expand(paths=['-'])
        stats = model.Stats()
        lines = scan.find(found, [sys.argv[1].encode()], stats,
                          block_size=4096)
        json.dump({'lines': [[x.source, x.offset, x.data.decode()]
                             for x in lines],
                   'bytes': stats.bytes, 'files': stats.files}, sys.stdout)
    ''')
    proc = subprocess.run([sys.executable, '-c', code, ID.decode()],
                          input=data, capture_output=True, check=True)
    out = json.loads(proc.stdout)
    assert [(o, d.encode()) for s, o, d in out['lines']] == _expected(
        data, [ID])
    assert {s for s, _, _ in out['lines']} == {'-'}
    assert (out['bytes'], out['files']) == (len(data), 1)


def test_a_fifo_is_read_as_a_stream(tmp_path):
    """A named pipe given as a source (e.g. <(...)) is read to its end."""
    data = _corpus(2000)
    fifo = tmp_path / 'pipe'
    os.mkfifo(fifo)
    found, warnings = sources.expand(paths=[str(fifo)])
    assert warnings == [] and found[0].size is None

    def write():
        with open(fifo, 'wb') as handle:
            handle.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    stats = model.Stats()
    lines = scan.find(found, [ID], stats, block_size=1000)
    writer.join()
    assert _pairs(lines) == _expected(data, [ID])


def test_empty_files(tmp_path):
    """Empty plain and gzip files: counted, nothing found, no warning."""
    (tmp_path / 'empty.log').write_bytes(b'')
    (tmp_path / 'empty.log.1.gz').write_bytes(gzip.compress(b''))
    (tmp_path / 'zero.log.2.gz').write_bytes(b'')
    lines, stats = _find([tmp_path], [ID], jobs=2)
    assert lines == [] and stats.warnings == []
    assert (stats.files, stats.bytes, stats.lines) == (3, 0, 0)


def test_vanished_file_warns_and_goes_on(tmp_path):
    """A file removed between listing and scanning: one warning."""
    gone = tmp_path / 'gone.log'
    gone.write_bytes(b'x ' + ID + b'\n')
    kept = tmp_path / 'kept.log'
    kept.write_bytes(b'y ' + ID + b'\n')
    found = _sources(gone, kept)
    gone.unlink()
    stats = model.Stats()
    lines = scan.find(found, [ID], stats)
    assert [x.source for x in lines] == [str(kept)]
    assert stats.warnings == [
        'global-reqid-trace: warning: %s: no such file or directory' % gone]
    assert stats.files == 1


def test_line_counts_are_estimated_beyond_the_sample(tmp_path):
    """Big files: lines estimated from the first MiB, within 2%."""
    data = _corpus(40000)
    assert len(data) > 4 * scan.LINE_SAMPLE
    path = tmp_path / 'big.log'
    path.write_bytes(data)
    _, stats = _find([path], [ID], jobs=2, chunk_size=1 << 20)
    assert abs(stats.lines - 40000) < 800


def test_overlong_stream_lines_are_skipped(tmp_path, monkeypatch):
    """A stream line longer than MAX_LINE: skipped with a warning."""
    monkeypatch.setattr(scan, 'MAX_LINE', 1000)
    data = b'a ' + ID + b'\n' + b'z' * 5000 + ID + b'\nb ' + ID + b'\n'
    path = tmp_path / 'a.log.gz'
    path.write_bytes(gzip.compress(data))
    lines, stats = _find([path], [ID], block_size=100)
    assert [x.data for x in lines] == [b'a ' + ID, b'b ' + ID]
    assert stats.warnings == ['global-reqid-trace: warning: %s: 1 line '
                              'longer than 1000 bytes skipped' % path]


def test_bad_needles_are_refused():
    """An empty needle would match everything: refused."""
    with pytest.raises(ValueError):
        scan.find([], [b''], model.Stats())
    with pytest.raises(ValueError):
        scan.find([], [b'a\nb'], model.Stats())


def _fake_journalctl(tmp_path, script):
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    tool = bindir / 'journalctl'
    tool.write_text('#!/bin/sh\n' + script)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return str(bindir)


def test_journal_falls_back_without_grep(tmp_path, monkeypatch):
    """A journalctl without --grep support: read all, filter here."""
    entry = {'__REALTIME_TIMESTAMP': '1', 'MESSAGE': 'x req-%s' % ID.decode()}
    other = {'__REALTIME_TIMESTAMP': '2', 'MESSAGE': 'nothing'}
    lines = json.dumps(other) + '\n' + json.dumps(entry) + '\n'
    log = tmp_path / 'args'
    bindir = _fake_journalctl(tmp_path, (
        'echo "$@" >> %s\n'
        'case "$*" in *--grep*) echo "Compiled without pattern matching '
        'support" >&2; exit 1;; esac\n'
        'printf %%s \'%s\'\n' % (log, lines)))
    monkeypatch.setenv('PATH', bindir + os.pathsep + os.environ['PATH'])
    found, _ = sources.expand(journal=True)
    stats = model.Stats()
    got = scan.find(found, [ID], stats)
    assert [(x.source, x.offset, json.loads(x.data)) for x in got] == [
        ('journal', len(lines.split('\n')[0]) + 1, entry)]
    calls = log.read_text().splitlines()
    assert calls[0].endswith('--grep=' + ID.decode())
    assert '--grep' not in calls[1]
    assert stats.warnings == [] and stats.files == 1


def test_journal_missing_is_a_warning(tmp_path, monkeypatch):
    """No journalctl at all: one warning, the other sources scanned."""
    monkeypatch.setenv('PATH', str(tmp_path))
    path = tmp_path / 'a.log'
    path.write_bytes(b'x ' + ID + b'\n')
    found, _ = sources.expand(logs=[str(path)], journal=True)
    stats = model.Stats()
    got = scan.find(found, [ID], stats)
    assert [x.source for x in got] == [str(path)]
    assert len(stats.warnings) == 1
    assert stats.warnings[0].startswith(
        'global-reqid-trace: warning: journal: cannot run journalctl')


def test_progress_draws_on_a_terminal(tmp_path):
    """On a pty: a bar while scanning, erased at the end."""
    path = tmp_path / 'a.log'
    path.write_bytes(_corpus(3000))
    master, slave = os.openpty()
    try:
        with open(slave, 'w', closefd=True) as stream:
            progress = scan.Progress(stream, threshold=0, interval=0)
            _find([path], [ID], jobs=0, progress=progress, block_size=4096)
        out = os.read(master, 1 << 16)
    finally:
        os.close(master)
    assert b'scanning [' in out and b'100%' in out
    assert out.endswith(b'\r\x1b[K')


def test_progress_is_silent_on_a_pipe(tmp_path):
    """On a pipe: nothing at all, whatever the size."""
    path = tmp_path / 'a.log'
    path.write_bytes(_corpus(3000))
    read_end, write_end = os.pipe()
    with open(write_end, 'w') as stream:
        progress = scan.Progress(stream, threshold=0, interval=0)
        _find([path], [ID], jobs=0, progress=progress, block_size=4096)
    with open(read_end, 'rb') as handle:
        assert handle.read() == b''


def test_progress_only_for_big_scans_and_rate_limited():
    """Under 100 MB: nothing; above, at most one draw per interval."""
    master, slave = os.openpty()
    try:
        with open(slave, 'w', closefd=True) as stream:
            small = scan.Progress(stream, interval=0)
            small.start(scan.PROGRESS_MIN_BYTES)
            small.update(scan.PROGRESS_MIN_BYTES)
            small.finish()
            big = scan.Progress(stream, interval=3600)
            big.start(scan.PROGRESS_MIN_BYTES + 1)
            for done in range(0, 1000):
                big.update(done)
            big.finish()
            stream.write('end')
        out = os.read(master, 1 << 16)
    finally:
        os.close(master)
    assert out == b'end'


def test_more_tasks_than_the_task_pipe_holds(tmp_path):
    """Over 16384 ranges: ids are fed to workers as the pipe drains."""
    data = _corpus(170)
    assert len(data) > 20000
    path = tmp_path / 'a.log'
    path.write_bytes(data)
    lines, stats = _find([path], [ID], jobs=2, chunk_size=1)
    assert _pairs(lines) == _expected(data, [ID])
    assert stats.bytes == len(data) and stats.warnings == []
