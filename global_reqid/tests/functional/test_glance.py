"""Glance's real context middleware behind our filter (from PyPI glance)."""

import json
import re
import subprocess
import sys
import textwrap

import pytest

from global_reqid import ids

pytest.importorskip('glance', reason='functional-requirements.txt: glance')

GLOBAL = 'req-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'
PASTE = textwrap.dedent("""\
    [pipeline:ours]
    pipeline = global_reqid context probe

    [pipeline:stock]
    pipeline = context probe

    [filter:global_reqid]
    paste.filter_factory = global_reqid.middleware:RequestId.factory

    [filter:context]
    paste.filter_factory = glance.api.middleware.context:ContextMiddleware.factory

    [app:probe]
    paste.app_factory = global_reqid.tests.functional.glance_probe:probe_app_factory
    """)
LINE = re.compile(r' INFO glance\.api\.v2\.images \[(\S+) (\S+) ')


def run(tmp_path, requests):
    paste = tmp_path / 'glance-api-paste.ini'
    paste.write_text(PASTE)
    logfile = tmp_path / 'glance-api.log'
    out = subprocess.run(
        [sys.executable, '-m', 'global_reqid.tests.functional.glance_probe',
         str(paste), str(logfile)],
        input=json.dumps(requests), capture_output=True, text=True,
        timeout=120, check=True)
    lines = LINE.findall(logfile.read_text())
    return json.loads(out.stdout), lines


def test_glance_logs_global_and_fresh_local(tmp_path):
    """Behind our filter glance logs ``[<global> <fresh local>]``."""
    results, lines = run(tmp_path, [['ours', GLOBAL], ['ours', None]])
    first, second = results
    local, global_id = first['context']
    assert global_id == GLOBAL
    assert ids.is_valid_request_id(local) and local != GLOBAL
    assert first['answered'] == local
    assert lines[0] == (GLOBAL, local)
    # No inbound id: glance's local id is still ours, fresh and valid.
    assert ids.is_valid_request_id(second['context'][0])
    assert second['context'][1] is None
    assert lines[1] == ('None', second['context'][0])


@pytest.mark.parametrize('bad', ['not-a-valid-id', 'req-' + 'a' * 70,
                                 GLOBAL.upper(), 'x' * 65])
def test_invalid_inbound_id_never_reaches_glance(tmp_path, bad):
    """An invalid header reaches neither glance's context nor its log."""
    results, lines = run(tmp_path, [['ours', bad], ['stock', bad]])
    ours, stock = results
    assert ours['status'] == 200
    local, global_id = ours['context']
    assert global_id is None and ids.is_valid_request_id(local)
    assert ours['answered'] == local
    assert bad not in json.dumps(lines[0])
    # Without our filter glance takes the raw value as its local id, or
    # fails the request when it is longer than 64 characters.
    if len(bad) > 64:
        assert stock['status'] == 500
    else:
        assert stock['context'][0] == bad
