"""global-reqid-trace rebuilds a real three-service action from its files."""

import gzip
import json
import logging
import os
import shutil
import subprocess
import sys

from keystoneauth1 import session as ks_session
from oslo_config import cfg
from oslo_log import log as oslo_log
import pytest

from global_reqid import client
from global_reqid import ids
from global_reqid import log as reqid_log
from global_reqid import middleware
from global_reqid.tests.functional import apps

GLOBAL = 'req-6a1f2e3d-4c5b-4a69-9788-a6b5c4d3e2f1'
SECRET = 'gAAAAABsecretTokenValueNeverShown0123'
HERE = os.path.dirname(__file__)
JS = os.path.join(HERE, '..', '..', '..', 'tools', 'js')


@pytest.fixture(autouse=True)
def _uninstrumented():
    """Every test leaves the process uninstrumented."""
    yield
    client.uninstrument()


def trace(*argv, stdin=None):
    """Run the installed command; return the completed process."""
    return subprocess.run(
        [sys.executable, '-m', 'global_reqid.cmd.trace', *argv],
        capture_output=True, text=True, timeout=120, check=False,
        input=stdin)


def calling_app(name, next_url, sess):
    """A service that logs, then calls the next one with its own session."""
    log = logging.getLogger('trace_cli.%s' % name)

    def app(environ, start_response):
        log.info('serving %s', environ['PATH_INFO'])
        status = '200 OK'
        if next_url:
            resp = sess.get(next_url + environ['PATH_INFO'],
                            authenticated=False, raise_exc=False,
                            headers={'X-Auth-Token': SECRET})
            log.info('next answered %d', resp.status_code)
        if environ['PATH_INFO'] == '/fail' and not next_url:
            log.error('backend failed for %s', environ['PATH_INFO'])
            status = '503 Service Unavailable'
        start_response(status, [('Content-Type', 'text/plain')])
        return [b'ok']
    return app


@pytest.fixture
def cloud(tmp_path):
    """svc-a -> svc-b -> svc-c on 127.0.0.1, events and oslo.log files."""
    events = tmp_path / 'events'
    logs = tmp_path / 'logs'
    logs.mkdir()
    conf = cfg.ConfigOpts()
    oslo_log.register_options(conf)
    conf([])
    handlers = []
    servers = []
    url = None
    sess = ks_session.Session()
    for name in ('svc-c', 'svc-b', 'svc-a'):
        handler = logging.FileHandler(logs / ('%s.log' % name))
        handler.setFormatter(reqid_log.ContextFormatter(config=conf))
        logger = logging.getLogger('trace_cli.%s' % name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        handlers.append((logger, handler))
        wrapped = middleware.RequestId(calling_app(name, url, sess), {
            'service_name': name, 'event_dir': str(events),
            'instrument_outbound': 'true'})
        server = apps.serving(wrapped, threads=4).__enter__()
        servers.append((server, wrapped))
        url = server.url

    def call(path='/x', global_id=GLOBAL):
        resp = ks_session.Session().get(url + path, authenticated=False,
                                        global_request_id=global_id,
                                        raise_exc=False)
        for _, wrapped in servers:
            assert wrapped.flush(10)
        for _, handler in handlers:
            handler.flush()
        return resp

    call.events = events
    call.logs = logs
    yield call
    for server, _ in servers:
        server.__exit__(None, None, None)
    for logger, handler in handlers:
        logger.removeHandler(handler)
        handler.close()


def walk(tree):
    """Every hop of ``tree``, depth first."""
    stack = list(reversed(tree['hops']))
    while stack:
        hop = stack.pop()
        yield hop
        stack.extend(reversed(hop['children']))


def hops(tree):
    """(caller, callee, method, path, status) of every hop, depth first."""
    out = []

    def walk(hop, depth):
        out.append((depth, hop['caller'], hop['callee'], hop['method'],
                    hop['path'], hop['status']))
        for child in hop['children']:
            walk(child, depth + 1)
    for root in tree['hops']:
        walk(root, 0)
    return out


def test_events_give_the_nested_sequence(cloud):
    """Events alone: client -> a -> b -> c nested by parent ids."""
    resp = cloud('/x')
    assert resp.status_code == 200
    result = trace(GLOBAL, '--events', str(cloud.events), '--format', 'json')
    assert result.returncode == 0, result.stderr
    tree = json.loads(result.stdout)
    assert tree['global_request_id'] == GLOBAL
    assert hops(tree) == [
        (0, 'client', 'svc-a', 'GET', '/x', 200),
        (1, 'svc-a', 'svc-b', 'GET', '/x', 200),
        (2, 'svc-b', 'svc-c', 'GET', '/x', 200),
    ]
    assert tree['participants'] == ['client', 'svc-a', 'svc-b', 'svc-c']
    assert tree['mode'] == 'events'


def test_a_local_id_gives_the_whole_action(cloud):
    """svc-c's local id, as svc-b saw it answered, finds the same tree."""
    cloud('/x')
    full = json.loads(trace(GLOBAL, '--events', str(cloud.events),
                            '--format', 'json').stdout)
    local = full['hops'][0]['children'][0]['children'][0]['request_id']
    assert ids.is_valid_request_id(local) and local != GLOBAL
    result = trace(local, '--events', str(cloud.events), '--format', 'json')
    assert result.returncode == 0, result.stderr
    tree = json.loads(result.stdout)
    assert tree['global_request_id'] == GLOBAL
    assert tree['queried_id'] == local
    assert hops(tree) == hops(full)


def test_log_lines_attach_to_their_hops(cloud):
    """Each service's oslo.log lines sit under that service's hop."""
    cloud('/x')
    tree = json.loads(trace(GLOBAL, '--events', str(cloud.events),
                            '--logs', str(cloud.logs), '--format',
                            'json').stdout)
    a = tree['hops'][0]
    b = a['children'][0]
    c = b['children'][0]
    for hop in (a, b, c):
        messages = [line['message'] for line in hop['lines']]
        assert 'serving /x' in messages, (hop['callee'], messages)
        assert all(line['request_id'] == hop['request_id']
                   for line in hop['lines'])
    assert 'next answered 200' in [line['message'] for line in a['lines']]


def test_failure_is_flagged_in_every_format(cloud, tmp_path):
    """A 503 deep down and its ERROR line stand out; no token anywhere."""
    cloud('/fail')
    out = tmp_path / 'out'
    result = trace(GLOBAL, '--events', str(cloud.events), '--logs',
                   str(cloud.logs), '--output-dir', str(out))
    assert result.returncode == 0, result.stderr
    written = sorted(os.listdir(out))
    assert written == ['body.md', 'diagram.md', 'trace.html', 'trace.json',
                       'trace.txt']
    tree = json.loads((out / 'trace.json').read_text())
    c = tree['hops'][0]['children'][0]['children'][0]
    assert c['status'] == 503 and c['failed']
    assert any(line['error'] for line in c['lines'])
    for name in written:
        text = (out / name).read_text()
        assert SECRET not in text, name
        assert '503' in text, name
    assert 'backend failed for /fail' in (out / 'trace.txt').read_text()


def test_retroactive_from_logs_only(cloud):
    """With no events at all, the log files still give every service."""
    cloud('/x')
    result = trace(GLOBAL, '--logs', str(cloud.logs), '--format', 'json')
    assert result.returncode == 0, result.stderr
    tree = json.loads(result.stdout)
    assert tree['mode'] == 'logs'
    callees = {hop[2] for hop in hops(tree)}
    assert {'svc-a', 'svc-b', 'svc-c'} <= callees


def test_rotated_gzip_and_stdin_sources(cloud, tmp_path):
    """The same lines found in a rotated .gz file and on stdin."""
    cloud('/x')
    rotated = tmp_path / 'rotated'
    rotated.mkdir()
    for path in cloud.logs.iterdir():
        with open(path, 'rb') as src, \
                gzip.open(rotated / (path.name + '.1.gz'), 'wb') as dst:
            shutil.copyfileobj(src, dst)
    plain = json.loads(trace(GLOBAL, '--logs', str(cloud.logs),
                             '--format', 'json').stdout)
    zipped = json.loads(trace(GLOBAL, '--logs', str(rotated),
                              '--format', 'json').stdout)
    assert hops(zipped) == hops(plain)
    text = ''.join((cloud.logs / name).read_text()
                   for name in ('svc-a.log', 'svc-b.log', 'svc-c.log'))
    result = trace(GLOBAL, '-', '--format', 'json', stdin=text)
    assert result.returncode == 0, result.stderr
    tree = json.loads(result.stdout)
    # No file name on stdin: the logger's top package names the service.
    assert tree['participants'] == ['client', 'trace_cli']
    messages = [line['message'] for hop in walk(tree) for line in hop['lines']]
    assert messages.count('serving /x') == 3
    # A local id read from stdin finds its global id: stdin is scanned
    # again for it (a second pass over the same input).
    local = tree['hops'][0]['lines'][0]['request_id']
    assert local != GLOBAL
    again = trace(local, '-', '--format', 'json', stdin=text)
    assert again.returncode == 0, again.stderr
    again = json.loads(again.stdout)
    assert again['global_request_id'] == GLOBAL
    assert [line['message'] for hop in walk(again)
            for line in hop['lines']].count('serving /x') == 3


def test_unknown_id_exits_1_with_counts(cloud):
    """An id in no file: exit 1 and one line naming files and lines."""
    cloud('/x')
    other = 'req-00000000-0000-4000-8000-000000000000'
    result = trace(other, '--events', str(cloud.events), '--logs',
                   str(cloud.logs))
    assert result.returncode == 1
    assert result.stdout == ''
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith('global-reqid-trace: no records for %s in '
                               % other)
    assert ' files (' in lines[0] and lines[0].endswith(' lines scanned)')


@pytest.mark.skipif(
    not (shutil.which('node')
         and os.path.isdir(os.path.join(JS, 'node_modules', 'mermaid'))),
    reason='node and tools/js/node_modules (tools/install-js-deps.sh) '
           'are needed to run the real mermaid parser')
def test_mermaid_of_a_real_action_parses(cloud, tmp_path):
    """The real mermaid parser accepts the diagram of a real action."""
    cloud('/fail')
    result = trace(GLOBAL, '--events', str(cloud.events), '--logs',
                   str(cloud.logs), '--format', 'mermaid')
    assert result.returncode == 0, result.stderr
    path = tmp_path / 'diagram.mmd'
    path.write_text(result.stdout)
    check = subprocess.run(
        ['node', os.path.join(JS, 'mermaid-parse.mjs'), str(path)],
        capture_output=True, text=True, timeout=120, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
