"""Named paths become sniffed, ordered sources; problems are warnings."""

import gzip
import json
import lzma
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from global_reqid.events import locations
from global_reqid.trace import sources

SAMPLES = '/work/shared/samples'


def _warning(path, reason):
    return 'global-reqid-trace: warning: %s: %s' % (path, reason)


def _event(seq):
    return json.dumps({'v': 1, 'kind': 'server', 'seq': seq,
                       'global_request_id': None,
                       'request_id': 'req-%08d' % seq},
                      separators=(',', ':')) + '\n'


def _copy(name, dest):
    shutil.copy(os.path.join(SAMPLES, name), dest)
    return str(dest)


def test_missing_path_warns_and_goes_on(tmp_path):
    """A missing path: one warning naming it; the others are kept."""
    kept = _copy('keystone.log', tmp_path / 'keystone.log')
    missing = str(tmp_path / 'nope.log')
    found, warnings = sources.expand(logs=[missing, kept])
    assert [s.path for s in found] == [kept]
    assert warnings == [_warning(missing, 'no such file or directory')]


def test_dangling_symlink_is_no_such_file(tmp_path):
    """A link to nothing reads as a missing file."""
    link = tmp_path / 'dangling.log'
    link.symlink_to(tmp_path / 'gone')
    found, warnings = sources.expand(paths=[str(link)])
    assert found == []
    assert warnings == [_warning(link, 'no such file or directory')]


def _expand_as_nobody(logs):
    """expand() in a forked process that runs as nobody when root."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            found, warnings = sources.expand(logs=logs)
            os.write(write_end, json.dumps(
                [[s.path for s in found], warnings]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with open(read_end, 'rb') as handle:
        out = handle.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(out)


def test_unreadable_file_warns_with_its_name():
    """A file the user may not read: 'permission denied', named."""
    # NOTE: root reads anything, so the check runs as nobody when root.
    top = tempfile.mkdtemp(prefix='reqid-perm-')
    try:
        os.chmod(top, 0o755)  # noqa: S103 - nobody must get in
        secret = os.path.join(top, 'secret.log')
        with open(secret, 'w') as handle:
            handle.write('2026-11-23 17:18:47.737 1 INFO x [-] hi\n')
        os.chmod(secret, 0)
        readable = _copy('glance-api.log', os.path.join(top, 'glance.log'))
        os.chmod(readable, 0o644)
        paths, warnings = _expand_as_nobody([secret, readable])
        assert paths == [readable]
        assert warnings == [_warning(secret, 'permission denied')]
    finally:
        shutil.rmtree(top)


def test_binary_files_are_skipped_with_a_warning(tmp_path):
    """Binary: named ones warned each, a directory's counted once."""
    blob = tmp_path / 'logs' / 'core.dump'
    blob.parent.mkdir()
    blob.write_bytes(bytes(range(256)) * 20)
    xz = tmp_path / 'logs' / 'old.log.3.xz'
    xz.write_bytes(lzma.compress(b'2026-11-23 hello\n'))
    log = _copy('keystone.log', tmp_path / 'logs' / 'keystone.log')
    found, warnings = sources.expand(logs=[str(blob), str(xz)])
    assert found == []
    assert warnings == [
        _warning(blob, 'binary file (not text), skipped'),
        _warning(xz, 'binary file (xz-compressed), skipped')]
    found, warnings = sources.expand(logs=[str(tmp_path / 'logs')])
    assert [s.path for s in found] == [log]
    assert warnings == [_warning(tmp_path / 'logs',
                                 '2 binary files skipped')]


def test_directories_are_walked_in_rotation_order(tmp_path):
    """Recursive walk; non-logs left out; rotated files oldest first."""
    top = tmp_path / 'log'
    (top / 'glance').mkdir(parents=True)
    (top / 'keystone').mkdir()
    text = open(os.path.join(SAMPLES, 'keystone.log'), 'rb').read()
    names = ['keystone/keystone.log', 'keystone/keystone.log.1',
             'keystone/keystone.log.2.gz', 'keystone/keystone.log.10.gz',
             'glance/api.log', 'glance/api.log-20261122.gz',
             'glance/api.log-20261123', 'glance/api.pid',
             'glance/api.sock', 'glance/api.log.gz']
    for name in names:
        data = gzip.compress(text) if name.endswith('.gz') else text
        (top / name).write_bytes(data)
    found, warnings = sources.expand(logs=[str(top)])
    assert warnings == []
    assert [os.path.relpath(s.path, top) for s in found] == [
        'glance/api.log-20261122.gz', 'glance/api.log-20261123',
        'glance/api.log.gz', 'glance/api.log',
        'keystone/keystone.log.10.gz', 'keystone/keystone.log.2.gz',
        'keystone/keystone.log.1', 'keystone/keystone.log']
    assert all(s.sniffed == 'oslo' and s.role == 'logs' for s in found)
    assert [s.compressed for s in found] == [
        True, False, True, False, True, True, False, False]
    assert [s.size for s in found] == [
        os.path.getsize(s.path) for s in found]


def test_named_rotated_files_are_put_in_order(tmp_path):
    """Files named one by one (a shell glob): same rotation order."""
    text = open(os.path.join(SAMPLES, 'glance-api.log'), 'rb').read()
    for name in ('a.log', 'a.log.1', 'a.log.2.gz', 'b.log'):
        data = gzip.compress(text) if name.endswith('.gz') else text
        (tmp_path / name).write_bytes(data)
    named = [str(tmp_path / n) for n in ('b.log', 'a.log', 'a.log.1',
                                         'a.log.2.gz')]
    found, _ = sources.expand(logs=named)
    assert [os.path.basename(s.path) for s in found] == [
        'b.log', 'a.log.2.gz', 'a.log.1', 'a.log']


def test_plain_and_gzip_copy_of_one_rotation_keep_the_plain(tmp_path):
    """x.1 and x.1.gz both there (compression cut short): x.1 only."""
    text = open(os.path.join(SAMPLES, 'keystone.log'), 'rb').read()
    (tmp_path / 'x.log.1').write_bytes(text)
    (tmp_path / 'x.log.1.gz').write_bytes(gzip.compress(text))
    found, _ = sources.expand(logs=[str(tmp_path)])
    assert [os.path.basename(s.path) for s in found] == ['x.log.1']


def test_globs_expand_recursively(tmp_path):
    """Glob patterns, ** included; no match is a warning."""
    (tmp_path / 'a' / 'b').mkdir(parents=True)
    deep = _copy('keystone.log', tmp_path / 'a' / 'b' / 'keystone.log')
    top = _copy('glance-api.log', tmp_path / 'glance-api.log')
    _copy('glance-access.log', tmp_path / 'a' / 'glance-access.txt')
    found, warnings = sources.expand(
        logs=[str(tmp_path / '**' / '*.log'), str(tmp_path / '*.nothing')])
    assert sorted(s.path for s in found) == sorted([deep, top])
    assert warnings == [_warning(tmp_path / '*.nothing',
                                 'no such file or directory')]


def test_duplicates_are_kept_once(tmp_path):
    """The same file by two names (or twice) is scanned once."""
    real = _copy('keystone.log', tmp_path / 'keystone.log')
    link = tmp_path / 'link.log'
    link.symlink_to(real)
    found, warnings = sources.expand(logs=[real, str(tmp_path)],
                                     paths=[str(link), real, '-', '-'])
    assert [s.path for s in found] == [real, '-']
    assert warnings == []


def test_sniffing_tells_formats_apart(tmp_path):
    """oslo, access, events, oslo JSON, journal, text; gzip unpacked."""
    oslo = _copy('keystone.log', tmp_path / 'k.log')
    access = _copy('glance-access.log', tmp_path / 'g-access.log')
    events = tmp_path / 'glance-api.host.1.jsonl'
    events.write_text(''.join(_event(n) for n in range(3)))
    oslo_json = tmp_path / 'nova.json'
    oslo_json.write_text(json.dumps({
        'message': 'hi', 'asctime': '2026-11-23 17:18:47,737',
        'levelname': 'INFO', 'context': {'request_id': 'req-1'}}) + '\n')
    journal = tmp_path / 'export.json'
    journal.write_text(json.dumps({
        '__CURSOR': 's=1', '__REALTIME_TIMESTAMP': '1700000000000000',
        'MESSAGE': 'hello', '_SYSTEMD_UNIT': 'devstack@n-api.service'})
        + '\n')
    plain = tmp_path / 'notes.txt'
    plain.write_text('just some words\nand more\n')
    packed = tmp_path / 'packed.log.gz'
    packed.write_bytes(gzip.compress(open(oslo, 'rb').read()))
    named = [oslo, access, events, oslo_json, journal, plain, packed]
    found, warnings = sources.expand(paths=[str(p) for p in named])
    assert warnings == []
    assert [(s.sniffed, s.role, s.compressed) for s in found] == [
        ('oslo', 'logs', False), ('access', 'logs', False),
        ('events', 'events', False), ('json', 'logs', False),
        ('journal', 'logs', False), ('text', 'logs', False),
        ('oslo', 'logs', True)]


def test_event_directories_by_role_and_by_content(tmp_path):
    """--events dirs use the reader's order; a positional dir holding
    events files is an events dir, any other a logs dir."""
    events = tmp_path / 'events'
    events.mkdir()
    (events / 'glance-api.h.1.jsonl').write_text(_event(3))
    (events / 'glance-api.h.1.jsonl.1').write_text(_event(2))
    (events / 'glance-api.h.1.jsonl.2.gz').write_bytes(
        gzip.compress(_event(1).encode()))
    (events / 'keystone.h.2.jsonl').write_text(_event(4))
    logs = tmp_path / 'logs'
    logs.mkdir()
    log = _copy('keystone.log', logs / 'keystone.log')
    expected = ['glance-api.h.1.jsonl.2.gz', 'glance-api.h.1.jsonl.1',
                'glance-api.h.1.jsonl', 'keystone.h.2.jsonl']
    by_role, _ = sources.expand(events=[str(events)])
    by_content, warnings = sources.expand(paths=[str(events), str(logs)])
    assert warnings == []
    for found in (by_role, by_content[:4]):
        assert [os.path.basename(s.path) for s in found] == expected
        assert {(s.role, s.sniffed) for s in found} == {('events',
                                                         'events')}
    assert [(s.path, s.role) for s in by_content[4:]] == [(log, 'logs')]


def test_stdin_and_journal_sources():
    """'-' is stdin, journal=True the local journal: streams, no size."""
    found, warnings = sources.expand(paths=['-'], journal=True)
    assert warnings == []
    assert [(s.path, s.role, s.sniffed, s.size) for s in found] == [
        ('-', 'logs', 'text', None), ('journal', 'logs', 'journal', None)]


def test_a_file_named_like_a_stream_stays_a_file(tmp_path, monkeypatch):
    """A file called 'journal' is not the journal."""
    monkeypatch.chdir(tmp_path)
    _copy('keystone.log', tmp_path / 'journal')
    found, _ = sources.expand(paths=['journal'])
    assert [(s.path, s.size is not None) for s in found] == [
        (os.path.join(os.curdir, 'journal'), True)]


def test_default_event_dirs(tmp_path, monkeypatch):
    """$GLOBAL_REQID_EVENTS first, else the default dir if it exists."""
    monkeypatch.setenv(locations.EVENT_DIR_ENV, str(tmp_path))
    assert sources.default_event_dirs() == [str(tmp_path)]
    monkeypatch.delenv(locations.EVENT_DIR_ENV)
    expected = ([locations.DEFAULT_EVENT_DIR]
                if os.path.isdir(locations.DEFAULT_EVENT_DIR) else [])
    assert sources.default_event_dirs() == expected


@pytest.mark.parametrize('name', ['evil\nname.log', 'esc\x1b[2J.log'])
def test_warnings_cannot_forge_lines(tmp_path, name):
    """A control character in a name is shown escaped, on one line."""
    path = str(tmp_path / name)
    _, warnings = sources.expand(logs=[path])
    assert len(warnings) == 1 and warnings[0].isprintable()
    assert repr(path) in warnings[0]


def test_importing_stays_light():
    """No oslo, json or subprocess at import: --help must stay fast."""
    code = ('import sys; import global_reqid.trace.scan; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("oslo_config", "oslo_log", "json", "subprocess", "gzip")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         check=True, text=True).stdout
    assert out.strip() == '[]'
