"""The real openstack CLI against real keystone and glance-api, traced.

One cloud for the module (:mod:`realcloud`): keystone served by
``global_reqid.wsgi.keystone`` and glance-api with the filter before
``authtoken``, both writing events and instrumenting outbound calls. Each
``openstack image`` command runs once under ``global-reqid-trace record``;
its trace is rendered once (JSON, every format with ``--output-dir``, and
JSON again from the plain logs alone), and the tests read those results.
"""

import collections
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from global_reqid import ids
from global_reqid.tests.functional import realcloud

for _module in ('keystone', 'glance', 'gunicorn', 'openstackclient'):
    pytest.importorskip(_module, reason='functional-requirements.txt')

BIN = os.path.dirname(sys.executable)
JS = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'tools',
                  'js')
RECORDING = re.compile(r'global-reqid-trace: recording \S+ as (req-\S+)\n')
#: A keystone fernet token, as it would leak.
FERNET = re.compile(r'gAAAAA[A-Za-z0-9_=-]{20,}')
IMAGE_BYTES = bytes(range(256)) * 16
IMAGE = '/v2/images/{image}'

#: The commands, in order, and the calls the client must make to
#: glance-api: (method, path, status); ``{image}`` and ``{project}`` are
#: filled in.
COMMANDS = (
    ('create', ['image', 'create', '--file', '{file}', '--disk-format',
                'raw', '--container-format', 'bare', 'traced-image', '-f',
                'value', '-c', 'id'],
     [('POST', '/v2/images', 201), ('PUT', IMAGE + '/file', 204)]),
    ('list', ['image', 'list', '-f', 'value', '-c', 'ID'],
     [('GET', '/v2/images', 200)]),
    ('show', ['image', 'show', '{image}', '-f', 'value', '-c', 'name'],
     [('GET', IMAGE, 200)]),
    ('save', ['image', 'save', '--file', '{saved}', '{image}'],
     [('GET', IMAGE + '/file', 200)]),
    ('add project', ['image', 'add', 'project', '{image}', '{project}'],
     [('POST', IMAGE + '/members', 200)]),
    ('member list', ['image', 'member', 'list', '{image}', '-f', 'value',
                     '-c', 'Member ID'],
     [('GET', IMAGE + '/members', 200)]),
    ('remove project', ['image', 'remove', 'project', '{image}',
                        '{project}'],
     [('DELETE', IMAGE + '/members/{project}', 204)]),
    ('set', ['image', 'set', '--property', 'traced=yes', '{image}'],
     [('PATCH', IMAGE, 200)]),
    ('unset', ['image', 'unset', '--property', 'traced', '{image}'],
     [('PATCH', IMAGE, 200)]),
    ('delete', ['image', 'delete', '{image}'],
     [('DELETE', IMAGE, 204)]),
)
NAMES = [name for name, _, _ in COMMANDS]

Run = collections.namedtuple(
    'Run', 'name global_id cli trace output_dir outputs retro')


def trace_command():
    script = os.path.join(BIN, 'global-reqid-trace')
    return ([script] if os.path.exists(script)
            else [sys.executable, '-m', 'global_reqid.cmd.trace'])


def run(command, env=None, timeout=180):
    return subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope='module')
def cloud(tmp_path_factory):
    """keystone and glance-api on 127.0.0.1, stopped after the module."""
    with realcloud.RealCloud(tmp_path_factory.mktemp('realcloud')) as made:
        yield made


@pytest.fixture(scope='module')
def runs(cloud, tmp_path_factory):
    """Every command run once, recorded, and its trace rendered once."""
    work = tmp_path_factory.mktemp('image-cli')
    env = cloud.client_env(work)
    upload = work / 'upload.raw'
    upload.write_bytes(IMAGE_BYTES)
    fill = {'file': str(upload), 'saved': str(work / 'saved.raw'),
            'project': cloud.ids[realcloud.DEMO_PROJECT], 'image': None}
    done = {}
    for name, argv, _ in COMMANDS:
        command = [os.path.join(BIN, 'openstack')] + [
            part.format(**fill) for part in argv]
        cli = run(trace_command() + ['record', '--events', cloud.events,
                                     '--'] + command, env)
        match = RECORDING.search(cli.stderr)
        global_id = match[1] if match else None
        if name == 'create' and cli.returncode == 0:
            fill['image'] = cli.stdout.strip()
        traced = outputs = retro = None
        out_dir = work / ('trace-' + name.replace(' ', '-'))
        if global_id:
            traced = run(trace_command() + [
                global_id, '--events', cloud.events, '--logs', cloud.logs,
                '--format', 'json'])
            outputs = run(trace_command() + [
                global_id, '--events', cloud.events, '--logs', cloud.logs,
                '--output-dir', str(out_dir)])
            retro = run(trace_command() + [global_id, '--logs', cloud.logs,
                                           '--format', 'json'])
        done[name] = Run(name, global_id, cli, traced, out_dir, outputs,
                         retro)
    done['fill'] = fill
    return done


def document(result):
    """The JSON trace a run printed."""
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def hops(nodes, depth=0):
    """Every hop of a JSON trace with its depth, depth first."""
    for hop in nodes:
        yield depth, hop
        yield from hops(hop['children'], depth + 1)


def expected_calls(name, fill):
    for command, _, calls in COMMANDS:
        if command == name:
            return {(m, p.format(**fill), s) for m, p, s in calls}
    raise KeyError(name)


@pytest.mark.parametrize('name', NAMES)
def test_command_succeeds_under_record(runs, name):
    """Each openstack image command exits 0 and record names its id."""
    done = runs[name]
    assert done.cli.returncode == 0, done.cli.stderr
    assert ids.is_valid_request_id(done.global_id), done.cli.stderr
    assert runs['fill']['image'], 'image create gave no id'


def test_saved_image_is_the_uploaded_one(runs):
    """image save writes back the bytes image create uploaded."""
    with open(runs['fill']['saved'], 'rb') as handle:
        assert handle.read() == IMAGE_BYTES


@pytest.mark.parametrize('name', NAMES)
def test_one_global_id_on_every_hop(runs, name):
    """Every hop and every log line under it carries the one global id."""
    done = runs[name]
    trace = document(done.trace)
    assert trace['global_request_id'] == done.global_id
    assert trace['mode'] == 'events'
    found = list(hops(trace['hops']))
    assert found
    for _, hop in found:
        assert hop['global_request_id'] == done.global_id, hop
        assert ids.is_valid_request_id(hop['request_id']), hop
        for line in hop['lines']:
            assert line['global_request_id'] in (done.global_id, None), line
            assert line['request_id'] in (hop['request_id'], None), line
    # One local id per request: keystone's oslo RequestId is out, so
    # its log lines, its answer and both events name the same one.
    assert len({hop['request_id'] for _, hop in found}) == len(found)
    assert trace['orphan_lines'] == []
    for _, hop in found:
        logged = {os.path.basename(line['source']) for line in hop['lines']}
        assert '%s.log' % hop['callee'] in logged, hop
        assert '%s-access.log' % hop['callee'] in logged, hop


@pytest.mark.parametrize('name', NAMES)
def test_both_sides_recorded_every_hop(runs, name):
    """Each hop has the caller's and the callee's event, and a status."""
    trace = document(runs[name].trace)
    assert trace['participants'][:2] == ['openstack', 'keystone']
    assert set(trace['participants']) == {'openstack', 'keystone',
                                          'glance-api'}
    for _, hop in hops(trace['hops']):
        assert set(hop['evidence']) >= {'client', 'server'}, hop
        assert hop['status'] is not None and hop['status'] < 400, hop


@pytest.mark.parametrize('name', NAMES)
def test_client_gets_a_token_from_keystone(runs, name):
    """The client's first calls: keystone discovery, then a token."""
    trace = document(runs[name].trace)
    top = [(h['caller'], h['callee'], h['method'], h['path'], h['status'])
           for h in trace['hops']]
    assert top[:2] == [('openstack', 'keystone', 'GET', '/v3', 200),
                       ('openstack', 'keystone', 'POST', '/v3/auth/tokens',
                        201)]


@pytest.mark.parametrize('name', NAMES)
def test_client_calls_to_glance(runs, name):
    """The client's calls to glance-api: methods, paths and statuses."""
    trace = document(runs[name].trace)
    calls = {(h['method'], h['path'], h['status']) for h in trace['hops']
             if h['callee'] == 'glance-api'}
    assert expected_calls(name, runs['fill']) <= calls
    assert all(h['caller'] == 'openstack' for h in trace['hops'])


@pytest.mark.parametrize('name', NAMES)
def test_glance_validates_the_token_with_keystone(runs, name):
    """glance-api validates each command's new token once, nested."""
    trace = document(runs[name].trace)
    nested = [(depth, hop) for depth, hop in hops(trace['hops'])
              if hop['caller'] == 'glance-api']
    assert nested and all(depth == 1 and hop['callee'] == 'keystone'
                          for depth, hop in nested)
    validations = [hop for _, hop in nested
                   if (hop['method'], hop['path']) == ('GET',
                                                       '/v3/auth/tokens')]
    assert [hop['status'] for hop in validations] == [200]
    parents = [hop for hop in trace['hops'] if any(
        child['caller'] == 'glance-api' for child in hop['children'])]
    # The first call that needed a token validated it; later calls of the
    # same command found it in authtoken's cache.
    assert len(parents) == 1
    first_api_call = next(h for h in trace['hops']
                          if h['callee'] == 'glance-api'
                          and h['path'].startswith('/v2/'))
    assert parents[0] is first_api_call


@pytest.mark.parametrize('name', NAMES)
def test_no_secret_in_any_output(runs, cloud, name):
    """No password or token in any output format, nor on stdout/stderr."""
    done = runs[name]
    assert done.outputs.returncode == 0, done.outputs.stderr
    written = sorted(os.listdir(done.output_dir))
    assert written == sorted(['trace.txt', 'diagram.md', 'body.md',
                              'trace.json', 'trace.html'])
    texts = {'record': done.cli.stdout + done.cli.stderr,
             'json': done.trace.stdout + done.trace.stderr,
             'output-dir': done.outputs.stdout + done.outputs.stderr,
             'retro': done.retro.stdout + done.retro.stderr}
    for file_name in written:
        with open(done.output_dir / file_name, encoding='utf-8') as handle:
            texts[file_name] = handle.read()
    for where, text in texts.items():
        for secret in cloud.secrets():
            assert secret not in text, where
        assert not FERNET.search(text), where


def test_no_secret_in_the_events(runs, cloud):
    """The events both services and the client wrote hold no secret."""
    for file_name in os.listdir(cloud.events):
        with open(os.path.join(cloud.events, file_name),
                  encoding='utf-8') as handle:
            text = handle.read()
        for secret in cloud.secrets():
            assert secret not in text, file_name
        assert not FERNET.search(text), file_name


def test_upload_and_download_hops(runs):
    """The image data goes up with PUT .../file 204, down with GET 200."""
    image = IMAGE.format(**runs['fill'])
    up = [h for h in document(runs['create'].trace)['hops']
          if h['path'] == image + '/file']
    down = [h for h in document(runs['save'].trace)['hops']
            if h['path'] == image + '/file']
    assert [(h['method'], h['status']) for h in up] == [('PUT', 204)]
    assert [(h['method'], h['status']) for h in down] == [('GET', 200)]
    assert up[0]['request_bytes'] == len(IMAGE_BYTES)
    assert down[0]['response_bytes'] == len(IMAGE_BYTES)


@pytest.mark.parametrize('name', NAMES)
def test_retroactive_trace_from_plain_logs(runs, name):
    """Without events, the plain service logs give the same client calls."""
    done = runs[name]
    events = document(done.trace)
    retro = document(done.retro)
    assert retro['mode'] != 'events'
    assert retro['global_request_id'] == done.global_id

    def client_calls(trace, caller):
        return sorted((h['callee'], h['method'], h['path'], h['status'])
                      for _, h in hops(trace['hops'])
                      if h['caller'] == caller)

    found = client_calls(retro, 'client')
    assert ('keystone', 'POST', '/v3/auth/tokens', 201) in found
    glance = [call for call in found if call[0] == 'glance-api']
    assert glance == [call for call in client_calls(events, 'openstack')
                      if call[0] == 'glance-api']
    assert {(m, p, s) for _, m, p, s in glance} >= expected_calls(
        name, runs['fill'])


@pytest.mark.parametrize('name', NAMES)
def test_retroactive_tree_is_the_events_tree(runs, name):
    """From plain logs alone, glance-api's calls to keystone nest under
    the glance-api request that made them, as the events say: the whole
    tree (depth, callee, method, path, status, local id) is the same."""
    done = runs[name]

    def tree(trace):
        return [(depth, hop['callee'], hop['method'], hop['path'],
                 hop['status'], hop['request_id'])
                for depth, hop in hops(trace['hops'])]

    assert tree(document(done.retro)) == tree(document(done.trace))


@pytest.mark.parametrize('name', NAMES)
def test_retroactive_starts_match_the_events(runs, name):
    """From logs alone a request starts at its first line, as its event."""
    done = runs[name]
    recorded = {hop['request_id']: hop['start']
                for _, hop in hops(document(done.trace)['hops'])}
    compared = 0
    for _, hop in hops(document(done.retro)['hops']):
        logged = [line for line in hop['lines'] if line['kind'] != 'access']
        if not logged or hop['request_id'] not in recorded:
            continue
        compared += 1
        # keystone validates the token (~0.1-0.5 s) before it logs
        # REQUEST_METHOD; its first line comes right after the filter.
        assert abs(hop['start'] - recorded[hop['request_id']]) < 0.08, hop
    assert compared >= 3


@pytest.mark.skipif(
    not (shutil.which('node')
         and os.path.isdir(os.path.join(JS, 'node_modules', 'mermaid'))),
    reason='node and tools/js/node_modules (tools/install-js-deps.sh) '
           'are needed to run the real mermaid parser')
def test_mermaid_of_every_command_parses(runs, tmp_path):
    """The real mermaid parser accepts every command's diagram."""
    paths = []
    for name in NAMES:
        with open(runs[name].output_dir / 'diagram.md',
                  encoding='utf-8') as handle:
            text = handle.read()
        assert text.startswith('```mermaid\n')
        assert '\nsequenceDiagram\n' in text
        assert text.endswith('```\n')
        path = tmp_path / ('%s.mmd' % name.replace(' ', '-'))
        path.write_text(text[len('```mermaid\n'):-len('```\n')])
        paths.append(str(path))
    check = run(['node', os.path.join(JS, 'mermaid-parse.mjs')] + paths)
    assert check.returncode == 0, check.stdout + check.stderr
