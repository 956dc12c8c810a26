"""The reader yields whole events, skips and counts damaged lines."""

import gzip
import io
import json
import os

import pytest

from global_reqid.events import reader


def _line(seq):
    return json.dumps({'v': 1, 'kind': 'server', 'seq': seq}) + '\n'


def _write(path, seqs, tail=''):
    data = (''.join(_line(s) for s in seqs) + tail).encode()
    if str(path).endswith('.gz'):
        data = gzip.compress(data)
    with open(path, 'wb') as handle:
        handle.write(data)


def test_reads_events_in_file_order(tmp_path):
    """Each line is one event, yielded in order and counted."""
    _write(tmp_path / 'a.jsonl', range(3))
    stats = reader.new_stats()
    events = list(reader.read_events(tmp_path / 'a.jsonl', stats))
    assert [e['seq'] for e in events] == [0, 1, 2]
    assert stats == {'events': 3, 'skipped': 0}


def test_truncated_last_line_is_skipped_and_counted(tmp_path):
    """A partial last line (a killed writer) is skipped, not fatal."""
    _write(tmp_path / 'a.jsonl', range(3), tail='{"v": 1, "kind": "ser')
    stats = {}
    assert [e['seq'] for e in reader.read_events(
        str(tmp_path / 'a.jsonl'), stats)] == [0, 1, 2]
    assert stats == {'events': 3, 'skipped': 1}


def test_lines_that_are_not_objects_are_skipped(tmp_path):
    """Garbage, non-object JSON and bad UTF-8 are skipped; blanks ignored."""
    path = tmp_path / 'a.jsonl'
    with open(path, 'wb') as handle:
        handle.write(_line(0).encode() + b'[1, 2]\n\n"text"\n'
                     b'{"v": 1, "seq": \xff}\n' + b'{"v"\x00\n'
                     + _line(1).encode())
    stats = reader.new_stats()
    assert [e['seq'] for e in reader.read_events(path, stats)] == [0, 1]
    assert stats == {'events': 2, 'skipped': 4}


def test_reads_gzip_by_content(tmp_path):
    """Gzipped files are read whatever their name says."""
    _write(tmp_path / 'a.jsonl.1.gz', range(4))
    os.link(tmp_path / 'a.jsonl.1.gz', tmp_path / 'renamed')
    for name in ('a.jsonl.1.gz', 'renamed'):
        assert [e['seq'] for e in reader.read_events(
            tmp_path / name)] == [0, 1, 2, 3]


def test_truncated_gzip_yields_what_came_before(tmp_path):
    """A gzip file cut short gives the events before the cut, counted."""
    data = gzip.compress(''.join(_line(s) for s in range(2000)).encode())
    path = tmp_path / 'a.jsonl.1.gz'
    path.write_bytes(data[:len(data) // 2])
    stats = reader.new_stats()
    seqs = [e['seq'] for e in reader.read_events(path, stats)]
    assert seqs == list(range(len(seqs)))
    assert 0 < len(seqs) < 2000
    assert stats['skipped'] >= 1


@pytest.mark.parametrize('handle', [
    io.BytesIO((_line(0) + _line(1)).encode()),
    io.StringIO(_line(0) + _line(1)),
])
def test_reads_open_file_objects(handle):
    """Binary and text file objects are read as they are."""
    assert [e['seq'] for e in reader.read_events(handle)] == [0, 1]


def test_reads_lazily_line_by_line():
    """The first event comes before the rest of the file is read."""
    def lines():
        yield _line(0).encode()
        raise AssertionError('read past the first line')
    events = reader.read_events(lines())
    assert next(events)['seq'] == 0


def test_events_files_oldest_first_per_process(tmp_path):
    """Rotated files come first, highest number first; others are ignored."""
    for name in ('b.h.2.jsonl', 'a.h.1.jsonl', 'a.h.1.jsonl.1',
                 'a.h.1.jsonl.3.gz', 'a.h.1.jsonl.2.gz',
                 '.a.h.1.jsonl.1.gz.tmp', 'notes.txt', 'a.h.1.jsonl.bak'):
        (tmp_path / name).write_text('')
    assert [os.path.basename(p) for p in reader.events_files(tmp_path)] == [
        'a.h.1.jsonl.3.gz', 'a.h.1.jsonl.2.gz', 'a.h.1.jsonl.1',
        'a.h.1.jsonl', 'b.h.2.jsonl']


def test_plain_and_gzip_of_one_rotation_read_once(tmp_path):
    """A crash mid-compression leaves .N and .N.gz: only .N is read."""
    _write(tmp_path / 'a.jsonl.1', [1])
    _write(tmp_path / 'a.jsonl.1.gz', [1])
    _write(tmp_path / 'a.jsonl', [2])
    assert [e['seq'] for e in reader.iter_directory(tmp_path)] == [1, 2]


def test_iter_directory_totals_stats(tmp_path):
    """Events of every file, oldest first, with one stats total."""
    _write(tmp_path / 'a.jsonl.2.gz', [0, 1])
    _write(tmp_path / 'a.jsonl.1', [2, 3], tail='{"partial')
    _write(tmp_path / 'a.jsonl', [4])
    _write(tmp_path / 'b.jsonl', [10], tail='{')
    stats = reader.new_stats()
    assert [e['seq'] for e in reader.iter_directory(tmp_path, stats)] == [
        0, 1, 2, 3, 4, 10]
    assert stats == {'events': 6, 'skipped': 2}
