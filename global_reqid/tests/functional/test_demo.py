"""``global-reqid-trace demo`` runs a small cloud and traces one action."""

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest

from global_reqid import client
from global_reqid.cmd import demo
from global_reqid.cmd import trace as trace_cmd

ID = r'req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
#: What a token the identity stand-in issues looks like (fernet's shape).
TOKEN_SHAPE = re.compile(rb'gAAAAA[A-Za-z0-9_-]{20,}')
SERVICES = ('keystone', 'glance-api', 'swift')
OUTPUTS = ('trace.txt', 'diagram.md', 'body.md', 'trace.json', 'trace.html')


def _command():
    script = shutil.which('global-reqid-trace')
    return [script] if script else [sys.executable, '-m',
                                    'global_reqid.cmd.trace']


def _run(*argv, timeout=60):
    return subprocess.run(_command() + list(argv), capture_output=True,
                          text=True, timeout=timeout, check=False)


class Run:
    """One run of the demo: its process, directory and global id."""

    def __init__(self, directory):
        self.directory = str(directory)
        started = time.monotonic()
        self.proc = _run('demo', '--dir', self.directory)
        self.seconds = time.monotonic() - started
        found = re.search(r'^action: .* as (%s)$' % ID, self.proc.stdout,
                          re.MULTILINE)
        self.global_id = found[1] if found else None

    def path(self, *parts):
        return os.path.join(self.directory, *parts)

    def document(self):
        with open(self.path('trace.json'), encoding='utf-8') as handle:
            return json.load(handle)


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """The demo, run once for the module, in the installed command."""
    return Run(tmp_path_factory.mktemp('demo') / 'out')


def _hops(hops, depth=0):
    for hop in hops:
        yield depth, hop
        yield from _hops(hop['children'], depth + 1)


def test_demo_exits_zero_and_says_ok(run):
    """A run that went as expected exits 0 and says so on its last line."""
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.global_id is not None
    assert run.proc.stdout.rstrip().splitlines()[-1].startswith('OK: ')
    assert 'not of OpenStack' in run.proc.stdout
    # A few seconds, with a wide margin for a busy machine.
    assert run.seconds < 30


def test_trace_json_has_the_expected_hops(run):
    """trace.json has each call of image create, nested, with its status."""
    got = [(depth, hop['caller'], hop['callee'], hop['method'],
            hop['status']) for depth, hop in _hops(run.document()['hops'])]
    assert got == [
        (0, 'client', 'keystone', 'POST', 201),
        (0, 'client', 'glance-api', 'POST', 201),
        (1, 'glance-api', 'keystone', 'GET', 200),
        (0, 'client', 'glance-api', 'PUT', 204),
        (1, 'glance-api', 'keystone', 'GET', 200),
        (1, 'glance-api', 'swift', 'PUT', 201),
        (2, 'swift', 'keystone', 'GET', 200),
        (0, 'client', 'glance-api', 'GET', 200),
        (1, 'glance-api', 'keystone', 'GET', 200),
    ]


def test_swift_put_is_under_the_upload(run):
    """glance-api -> swift PUT nests under client -> glance-api PUT .../file."""
    upload = [hop for _, hop in _hops(run.document()['hops'])
              if hop['method'] == 'PUT' and hop['callee'] == 'glance-api']
    assert len(upload) == 1
    assert re.fullmatch(r'/v2/images/[0-9a-f-]{36}/file', upload[0]['path'])
    image_id = upload[0]['path'].split('/')[3]
    stores = [child for child in upload[0]['children']
              if child['callee'] == 'swift']
    assert len(stores) == 1
    assert stores[0]['path'].endswith('/images/' + image_id)
    assert stores[0]['parent_request_id'] == upload[0]['request_id']
    assert [c['callee'] for c in stores[0]['children']] == ['keystone']


def test_one_global_id_everywhere(run):
    """Every hop and every service's log line carries the one global id."""
    document = run.document()
    assert document['global_request_id'] == run.global_id
    hops = [hop for _, hop in _hops(document['hops'])]
    assert {hop['global_request_id'] for hop in hops} == {run.global_id}
    local = [hop['request_id'] for hop in hops]
    assert len(set(local)) == len(hops) and run.global_id not in local
    for service in SERVICES:
        with open(run.path('logs', service + '.log'),
                  encoding='utf-8') as handle:
            lines = handle.read().splitlines()
        assert lines, service
        assert all('[%s req-' % run.global_id in line for line in lines)


def test_no_token_or_password_anywhere(run):
    """No token is in any file or output; passwords are masked."""
    outputs = [run.proc.stdout.encode(), run.proc.stderr.encode()]
    for root, _, names in os.walk(run.directory):
        for name in names:
            with open(os.path.join(root, name), 'rb') as handle:
                outputs.append(handle.read())
    assert len(outputs) > 2 + len(OUTPUTS) + 2 * len(SERVICES)
    assert not any(TOKEN_SHAPE.search(data) for data in outputs)
    # The password the client sent is in the recorded request body, masked.
    passwords = re.findall(rb'\\?"password\\?": ?\\?"([^"\\]*)',
                           b'\n'.join(outputs))
    assert passwords and set(passwords) == {b'***'}
    # Token headers are recorded as keystoneauth logs them: hashed.
    assert re.search(rb'"X-Auth-Token": ?"\{SHA256\}[0-9a-f]{64}"',
                     b'\n'.join(outputs))


def test_every_format_is_written_and_the_html_path_printed(run):
    """The five --output-dir files exist; the HTML path and the command
    that shows the trace again are printed."""
    for name in OUTPUTS:
        assert os.path.getsize(run.path(name)) > 0, name
    html = run.path('trace.html')
    assert 'open in a browser: %s\n' % html in run.proc.stdout
    with open(html, encoding='utf-8') as handle:
        assert run.global_id in handle.read()


def test_printed_command_shows_the_same_trace(run):
    """The printed global-reqid-trace command rebuilds the same hops."""
    line = re.search(r'^run it again: global-reqid-trace (.*)$',
                     run.proc.stdout, re.MULTILINE)[1]
    again = _run(*line.split(), '--format', 'json')
    assert again.returncode == 0, again.stderr
    fresh = json.loads(again.stdout)
    assert ([(d, h['request_id'], h['status']) for d, h in _hops(
        fresh['hops'])] == [(d, h['request_id'], h['status'])
                           for d, h in _hops(run.document()['hops'])])


def test_services_are_real_paste_pipelines(run):
    """Each service's api-paste.ini puts global_reqid first, instrumented."""
    for service in SERVICES:
        with open(run.path('etc', service, 'api-paste.ini'),
                  encoding='utf-8') as handle:
            text = handle.read()
        pipeline = re.search(r'^pipeline = (.*)$', text, re.MULTILINE)[1]
        assert pipeline.split()[0] == 'global_reqid', service
        assert 'service_name = %s\n' % service in text
        assert 'instrument_outbound = true\n' in text
        assert (service == 'keystone') != ('tokencheck' in pipeline)


def test_check_names_a_wrong_hop(run):
    """check() reports a hop whose status differs from the expected one."""
    trace, _ = trace_cmd.collect(run.global_id,
                                 events=[run.path('events')],
                                 logs=[run.path('logs')])
    project = re.search(r'/AUTH_([0-9a-f]{32})/', json.dumps(
        run.document()))[1]
    assert demo.check(trace, run.global_id, project) == []
    trace.roots[2].children[1].status = 500
    problems = demo.check(trace, run.global_id, project)
    assert len(problems) == 1 and "'swift', 'PUT'" in problems[0]
    trace.roots[0].global_request_id = None
    assert len(demo.check(trace, run.global_id, project)) == 2


def test_leaks_finds_a_planted_secret(tmp_path):
    """leaks() names the file and the output that hold a secret."""
    (tmp_path / 'a').mkdir()
    (tmp_path / 'a' / 'clean.log').write_text('nothing here\n')
    (tmp_path / 'a' / 'dirty.log').write_text('token gAAAAABxyz\n')
    found = demo.leaks(str(tmp_path), ['fine', 'has gAAAAABxyz'],
                       ['gAAAAABxyz'])
    assert found == ['a secret is in the output shown (#1)',
                     'a secret is in %s' % (tmp_path / 'a' / 'dirty.log')]


def test_nothing_left_running(tmp_path):
    """In process: servers stopped, instrumentation undone, logs restored."""
    before = set(threading.enumerate())
    assert not client.is_instrumented()
    assert demo.main(['--dir', str(tmp_path / 'd')]) == 0
    assert not client.is_instrumented()
    # The filters were closed: their event writers stopped too.
    left = [thread.name for thread in set(threading.enumerate()) - before]
    assert left == []
    for name in ('keystone', 'glance', 'swift'):
        logger = logging.getLogger(name)
        assert logger.handlers == [] and logger.propagate


def test_lines_shows_each_service_log_lines(tmp_path):
    """``--lines`` puts the services' log lines under their hops."""
    proc = _run('demo', '--dir', str(tmp_path / 'd'), '--lines')
    assert proc.returncode == 0, proc.stderr
    for message in ('Issued a token for user demo',
                    'Token of user demo validated by keystone',
                    'Object images/', 'Showing image'):
        assert message in proc.stdout


def test_demo_help_exits_zero(capsys):
    """``demo --help`` describes the demo and exits 0."""
    assert trace_cmd.main(['demo', '--help']) == 0
    out = capsys.readouterr().out
    assert '127.0.0.1' in out and '--dir' in out


@pytest.mark.parametrize('argv', [['extra'], ['--format', 'nope'],
                                  ['--dir']])
def test_demo_rejects_bad_arguments(argv, capsys):
    """Bad usage exits 2 with argparse's one-line error on stderr."""
    assert trace_cmd.main(['demo'] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith('global-reqid-trace demo: error:')


def test_demo_refuses_a_non_empty_dir(tmp_path, capsys):
    """--dir must be empty: nothing of the user's is mixed with the demo's."""
    (tmp_path / 'keep.txt').write_text('mine\n')
    assert demo.main(['--dir', str(tmp_path)]) == 2
    assert 'is not empty' in capsys.readouterr().err
    assert os.listdir(tmp_path) == ['keep.txt']
