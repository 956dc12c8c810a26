"""``global-reqid-trace record`` runs real clients under one global id."""

import collections
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from global_reqid import client
from global_reqid import ids
from global_reqid import opts
from global_reqid.cmd import record
from global_reqid.events import reader
from global_reqid.tests.functional import keystone_like

pytest.importorskip('openstackclient',
                    reason='functional-requirements.txt: '
                           'python-openstackclient')

BIN = os.path.dirname(sys.executable)
OPENSTACK = os.path.join(BIN, 'openstack')
RECORDING = re.compile(r'global-reqid-trace: recording \S+ as (req-\S+)\n')
SDK_SCRIPT = """\
import sys
import openstack
conn = openstack.connect(
    auth_url=sys.argv[1], username=sys.argv[2], password=sys.argv[3],
    project_name='admin', user_domain_id='default',
    project_domain_id='default', load_yaml_config=False,
    load_envvars=False)
print(' '.join(image.name for image in conn.image.images()))
"""

# Run as a new session's leader: opening the pty makes it the controlling
# terminal, then record runs in its foreground process group, so Ctrl-C
# typed there goes to record and its command alike.
IN_TERMINAL = """\
import os, sys
os.close(os.open(sys.argv[1], os.O_RDWR))
os.execv(sys.argv[2], sys.argv[2:])
"""
COUNT_SIGINTS = """\
import signal, time
hits = []
signal.signal(signal.SIGINT, lambda *args: hits.append(args[0]))
print('ready', flush=True)
deadline = time.monotonic() + 10
while not hits and time.monotonic() < deadline:
    time.sleep(0.02)
time.sleep(0.5)  # a duplicate passed on by record would arrive by now
print('sigints', len(hits), flush=True)
"""


def trace_command():
    script = os.path.join(BIN, 'global-reqid-trace')
    return ([script] if os.path.exists(script)
            else [sys.executable, '-m', 'global_reqid.cmd.trace'])


def openstack_cli(keystone, user=keystone_like.ADMIN):
    return [OPENSTACK, '--os-auth-url', keystone.url + '/v3',
            '--os-username', user.name, '--os-password', user.password,
            '--os-project-name', user.project,
            '--os-user-domain-id', 'default',
            '--os-project-domain-id', 'default',
            '--os-image-api-version', '2', 'image', 'list']


def sdk_script(keystone, user=keystone_like.ADMIN):
    return [sys.executable, '-c', SDK_SCRIPT, keystone.url + '/v3',
            user.name, user.password]


@pytest.fixture
def env(tmp_path):
    """A client environment with no clouds.yaml, OS_* or record settings."""
    home = tmp_path / 'home'
    home.mkdir()
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(('OS_', 'GLOBAL_REQID_'))}
    clean['HOME'] = str(home)
    return clean


@pytest.fixture
def keystone():
    """A keystone-like identity and image API on 127.0.0.1."""
    with keystone_like.serving() as app:
        yield app


def run(command, env, timeout=60):
    return subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=timeout)


def recorded(command, env, events, *options):
    """Run ``command`` under record; the result and the id it printed."""
    out = run(trace_command() + ['record', '--events', str(events)]
              + list(options) + ['--'] + command, env)
    match = RECORDING.search(out.stderr)
    assert match, out.stderr
    return out, match[1]


def client_events(events, global_id):
    return [e for e in reader.iter_directory(events)
            if e['kind'] == 'client' and e['global_request_id'] == global_id]


def assert_one_action(keystone, events, global_id, caller):
    """Every call carried the id and caller and gave one client event."""
    received = keystone.requests()
    assert {(r.header(ids.REQUEST_ID_HEADER), r.header(ids.CALLER_HEADER))
            for r in received} == {(global_id, caller)}
    calls = collections.Counter(
        (r.method, r.path, r.status, r.answered_id) for r in received)
    written = collections.Counter(
        (e['method'], e['path'], e['status'], e['callee_request_id'])
        for e in client_events(events, global_id))
    assert written == calls
    assert {e['service'] for e in client_events(events, global_id)} == {
        caller}


def test_cli_calls_all_carry_the_one_id(keystone, env, tmp_path):
    """The openstack CLI's every call, auth included, carries record's id."""
    out, global_id = recorded(openstack_cli(keystone), env, tmp_path / 'ev')
    assert out.returncode == 0, out.stderr
    assert 'cirros' in out.stdout
    assert ids.is_valid_request_id(global_id)
    assert out.stderr.startswith('global-reqid-trace: recording openstack '
                                 'as %s\n' % global_id)
    paths = {(r.method, r.path) for r in keystone.requests()}
    assert {('GET', '/v3'), ('POST', '/v3/auth/tokens'),
            ('GET', '/image/v2/images')} <= paths
    assert_one_action(keystone, tmp_path / 'ev', global_id, 'openstack')
    summary, see = out.stderr.splitlines()[-2:]
    assert global_id in summary and str(tmp_path / 'ev') in summary
    assert '%d client events' % len(keystone.requests()) in summary
    assert see == ('global-reqid-trace: see the trace: global-reqid-trace '
                   '%s --events %s' % (global_id, tmp_path / 'ev'))


def test_without_record_auth_calls_carry_no_id(keystone, env):
    """Control: today the CLI sends no id on its keystone calls."""
    out = run(openstack_cli(keystone), env)
    assert out.returncode == 0, out.stderr
    auth = [r for r in keystone.requests() if r.path.startswith('/v3')]
    assert auth and all(r.header(ids.REQUEST_ID_HEADER) is None
                        and r.header(ids.CALLER_HEADER) is None
                        for r in auth)


def test_failing_command_status_is_passed_through(keystone, env, tmp_path):
    """A failing CLI exits the same with and without record."""
    wrong = keystone_like.ADMIN._replace(password='wrong')
    plain = run(openstack_cli(keystone, wrong), env)
    keystone.clear()
    out, global_id = recorded(openstack_cli(keystone, wrong), env,
                              tmp_path / 'ev')
    assert plain.returncode != 0
    assert out.returncode == plain.returncode
    assert 'HTTP 401' in out.stderr and 'HTTP 401' in plain.stderr
    assert ('POST', '/v3/auth/tokens', 401) in {
        (r.method, r.path, r.status) for r in keystone.requests()}
    assert_one_action(keystone, tmp_path / 'ev', global_id, 'openstack')


def test_sdk_script_calls_all_carry_the_one_id(keystone, env, tmp_path):
    """An openstacksdk script's every call carries record's id."""
    out, global_id = recorded(sdk_script(keystone), env, tmp_path / 'ev',
                              '--name', 'sdk-script')
    assert out.returncode == 0, out.stderr
    assert out.stdout == 'cirros\n'
    assert ('POST', '/v3/auth/tokens') in {
        (r.method, r.path) for r in keystone.requests()}
    assert_one_action(keystone, tmp_path / 'ev', global_id, 'sdk-script')


def test_each_run_has_a_fresh_id(tmp_path, env):
    """Two runs mint two ids; the child sees the id, name and events."""
    show = [sys.executable, '-c', 'import os; print(os.environ["%s"], '
            'os.environ["%s"], os.environ["%s"])' % (
                record.RECORD_ID_ENV, record.RECORD_NAME_ENV,
                record.EVENTS_ENV)]
    first, first_id = recorded(show, env, tmp_path)
    second, second_id = recorded(show, env, tmp_path)
    assert first_id != second_id
    assert first.stdout.split() == [
        first_id, record.default_name(sys.executable), str(tmp_path)]
    assert second.stdout.split()[0] == second_id


def test_environment_names_are_the_clients():
    """record sets the variables client and the filter read."""
    assert (record.RECORD_ID_ENV, record.RECORD_NAME_ENV,
            record.EVENTS_ENV) == (client.RECORD_ID_ENV,
                                   client.RECORD_NAME_ENV,
                                   opts.EVENT_DIR_ENV)


def test_events_directory_defaults(tmp_path, monkeypatch, capfd):
    """--events, else $GLOBAL_REQID_EVENTS, else a new reported temp dir."""
    show = ['sh', '-c', 'echo "$%s"' % record.EVENTS_ENV]
    monkeypatch.setenv(record.EVENTS_ENV, str(tmp_path / 'from-env'))
    assert record.main(['--'] + show) == 0
    assert capfd.readouterr().out == '%s\n' % (tmp_path / 'from-env')
    monkeypatch.delenv(record.EVENTS_ENV)
    assert record.main(['--'] + show) == 0
    made = capfd.readouterr().out.strip()
    assert os.path.basename(made).startswith('global-reqid-record-')
    assert os.path.dirname(made) == tempfile.gettempdir()
    # Left empty by the command, it is not left behind.
    assert not os.path.exists(made)


def test_sitecustomize_chains_and_is_inert_without_record(tmp_path, env):
    """The shadowed sitecustomize runs; no id set, nothing is hooked."""
    shadowed = tmp_path / 'shadowed'
    shadowed.mkdir()
    (shadowed / 'sitecustomize.py').write_text('MARK = "chained"\n')
    probe = [sys.executable, '-c',
             'import sitecustomize\n'
             'from global_reqid import client\n'
             'print(sitecustomize.MARK, client.is_instrumented())']
    env['PYTHONPATH'] = str(shadowed)
    out, _ = recorded(probe, env, tmp_path / 'ev')
    assert out.stdout == 'chained True\n', out.stderr
    env['PYTHONPATH'] = os.pathsep.join([record.SITE_DIR, str(shadowed)])
    out = run(probe, env)
    assert out.stdout == 'chained False\n', out.stderr


def test_a_broken_sitecustomize_never_stops_a_program(tmp_path, env):
    """A shadowed sitecustomize that raises is reported as site.py does."""
    shadowed = tmp_path / 'shadowed'
    shadowed.mkdir()
    (shadowed / 'sitecustomize.py').write_text('raise RuntimeError("x")\n')
    env['PYTHONPATH'] = str(shadowed)
    out, _ = recorded([sys.executable, '-c', 'print("ran")'], env, tmp_path)
    assert out.returncode == 0 and out.stdout == 'ran\n'
    assert 'Error in sitecustomize' in out.stderr


def test_missing_command_exits_127(tmp_path, capsys):
    """A command that does not exist: one error line, status 127."""
    assert record.main(['--events', str(tmp_path), '--',
                        str(tmp_path / 'no-such-command')]) == 127
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == ('global-reqid-trace: error: %s: command not found'
                       % (tmp_path / 'no-such-command'))


@pytest.mark.parametrize('argv', [[], ['--'], ['--name', 'two words', '--',
                                                'true']])
def test_bad_usage_exits_2(argv, capsys):
    """No command, or a bad caller name: argparse's exit 2."""
    assert record.main(argv) == 2
    assert 'global-reqid-trace record: error:' in capsys.readouterr().err


def test_exit_status_and_signal_death(tmp_path):
    """The command's status is record's; death by signal N gives 128+N."""
    events = ['--events', str(tmp_path), '--']
    assert record.main(events + ['sh', '-c', 'exit 3']) == 3
    assert record.main(events + ['sh', '-c', 'kill -TERM $$']) == 143


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_signal_sent_to_record_reaches_the_command(signum, tmp_path, env):
    """A signal sent to record alone is passed on to the command."""
    child = [sys.executable, '-c',
             'import sys, time\n'
             'print("ready", flush=True)\n'
             'time.sleep(30)']
    proc = subprocess.Popen(
        trace_command() + ['record', '--events', str(tmp_path), '--']
        + child, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True)
    try:
        assert proc.stdout.readline() == 'ready\n'
        started = time.monotonic()
        proc.send_signal(signum)
        assert proc.wait(timeout=20) == 128 + signum
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def read_terminal(master, until, timeout=20):
    """What the pty shows until ``until`` appears (bounded)."""
    seen = b''
    deadline = time.monotonic() + timeout
    while until not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_terminal_ctrl_c_reaches_the_command_once(tmp_path, env):
    """Ctrl-C on the terminal reaches the command once, not twice."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, '-c', IN_TERMINAL, os.ttyname(slave)]
        + trace_command()
        + ['record', '--events', str(tmp_path), '--', sys.executable, '-c',
           COUNT_SIGINTS], env=env, stdin=slave, stdout=slave,
        stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        assert b'ready' in read_terminal(master, b'ready')
        os.write(master, b'\x03')
        shown = read_terminal(master, b'exited with')
        assert b'sigints 1\r\n' in shown, shown
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        os.close(master)
