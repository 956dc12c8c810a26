"""Tests of global_reqid.trace.parse: every line format, read safely."""

import calendar
import collections
import datetime
import http.server
import json
import logging
import math
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import threading
import uuid

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from keystoneauth1 import adapter as ksa_adapter
from keystoneauth1 import session as ksa_session
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_log import formatters as oslo_formatters
from oslo_log import handlers as oslo_handlers
from oslo_log import log as oslo_log
import pytest

from global_reqid import context
from global_reqid import log
from global_reqid.events import schema
from global_reqid.trace import model
from global_reqid.trace import parse

DATA = pathlib.Path(__file__).parent / 'data' / 'trace'
SAMPLES = DATA / 'samples'
SHARED_SAMPLES = pathlib.Path('/work/shared/samples')
JOURNAL_REMOTE = '/lib/systemd/systemd-journal-remote'

GLOBAL = 'req-423d23a0-4119-4cba-9776-57197970d605'
LOCAL = 'req-d5e96a71-d3e1-46c4-ae46-9ef866abe9f5'
CALLEE = 'req-0fbb38f6-ae4e-4eeb-a3b8-6d13465ae0bf'
INSTANCE = '070833a5-4f01-4ae7-9892-73e6556940ea'
# Written here, not taken from global_reqid.ids: the tests derive what
# they expect without the code under test.
ID = re.compile(r'req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                r'[0-9a-f]{12}')
CONTROL = re.compile('[\x00-\x08\x0a-\x1f\x7f-\x9f]')


def raw(line, source='/var/log/glance/glance-api.log', offset=0):
    if isinstance(line, str):
        line = line.encode('utf-8')
    return model.RawLine(source=source, offset=offset, data=line)


def parse_log(line, hint=None, source='/var/log/glance/glance-api.log'):
    kind, value = parse.parse(raw(line, source), hint)
    assert kind == 'log', value
    return value


def read_lines(path):
    """(offset, bytes) of each line of a file, as the scanner gives them."""
    offset = 0
    with open(path, 'rb') as handle:
        for line in handle:
            yield offset, line.rstrip(b'\n')
            offset += len(line)


def parse_file(path, hint=None):
    return [(data,) + parse.parse(model.RawLine(str(path), offset, data),
                                  hint)
            for offset, data in read_lines(path)]


def local_epoch(text, fmt='%Y-%m-%d %H:%M:%S.%f'):
    return datetime.datetime.strptime(text, fmt).timestamp()


def valid(value):
    return value if value is not None and ID.fullmatch(value) else None


# The real samples (keystone 30, glance 33 behind gunicorn, one run)


def test_sample_copies_match_shared_samples():
    """The committed samples are the project's real logs, unchanged."""
    if not SHARED_SAMPLES.is_dir():
        pytest.skip('no shared samples on this machine')
    for path in SAMPLES.iterdir():
        assert path.read_bytes() == (SHARED_SAMPLES / path.name).read_bytes()


@pytest.mark.parametrize('name', ['glance-access.log', 'keystone-access.log'])
def test_sample_access_lines(name):
    """Every gunicorn access line gives method, path, status, duration and
    the in/out ids, invalid ids dropped."""
    results = parse_file(SAMPLES / name, parse.service_from_path(name))
    assert len(results) == len((SAMPLES / name).read_bytes().splitlines())
    for data, kind, line in results:
        text = data.decode()
        head, request, tail = text.split('"')
        method, path, _ = request.split(' ')
        status, _, seconds = tail.split()[:3]
        inbound = tail.split(' in_reqid=')[1].split(' ')[0]
        answered = tail.split(' out_reqid=')[1]
        assert kind == 'log'
        assert line.kind == model.KIND_ACCESS
        assert (line.method, line.path, line.status) == (
            method, path, int(status))
        assert line.duration_ms == pytest.approx(float(seconds[:-1]) * 1000)
        assert line.inbound_request_id == valid(inbound)
        assert line.global_request_id == valid(inbound)
        assert line.callee_request_id == valid(answered)
        assert line.request_id == valid(answered)
        assert line.pid == int(head.split('pid=<')[1].split('>')[0])
        assert line.time == datetime.datetime.strptime(
            head.split(']')[0][1:], '%d/%b/%Y:%H:%M:%S %z').timestamp()
        assert line.service == name.split('-')[0]
        assert line.text == text


def test_sample_access_invalid_ids_are_dropped():
    """glance's echo of not-a-valid-id and a 77-character id count as no id.
    """
    lines = [line for _, _, line in parse_file(SAMPLES / 'glance-access.log')]
    odd = [line for line in lines
           if 'not-a-valid-id' in line.text or line.status == 500]
    assert len(odd) == 3
    for line in odd:
        assert line.inbound_request_id is None
        assert line.callee_request_id is None


def context_column(text):
    """The tokens of an oslo line's context column, split by hand."""
    parts = text.split(' ', 5)
    if len(parts) < 6 or not parts[5].startswith('['):
        return None
    if parts[5].startswith('[-]'):
        return []
    return parts[5][1:parts[5].index(']')].split(' ')


@pytest.mark.parametrize('name', ['keystone.log', 'glance-api.log'])
def test_sample_ids_per_line(name):
    """The number of lines with each local and each global id is what the
    context columns say."""
    locals_, globals_ = collections.Counter(), collections.Counter()
    for _, data in read_lines(SAMPLES / name):
        tokens = context_column(data.decode())
        if tokens:
            locals_[valid(tokens[1])] += 1
            globals_[valid(tokens[0])] += 1
    results = parse_file(SAMPLES / name)
    assert all(kind == 'log' for _, kind, _ in results)
    parsed = [line for _, _, line in results]
    assert collections.Counter(
        line.request_id for line in parsed if line.request_id) == {
        k: v for k, v in locals_.items() if k}
    assert collections.Counter(
        line.global_request_id for line in parsed
        if line.global_request_id) == {k: v for k, v in globals_.items() if k}


def test_sample_keystone_global_and_local_ids():
    """keystone: [req-G req-L - - - - - -] gives both ids."""
    lines = [line for _, _, line in parse_file(SAMPLES / 'keystone.log')]
    first = next(line for line in lines if line.global_request_id == GLOBAL)
    assert first.request_id == LOCAL
    assert first.message == 'REQUEST_METHOD: `GET`'
    assert first.user_id is None and first.project_id is None


def test_sample_glance_client_id_in_local_slot():
    """glance: [None req-<client id> user project - - default default] has no
    global id, the client's id as local id, and the 6-field identity."""
    lines = [line for _, _, line in parse_file(SAMPLES / 'glance-api.log')]
    line = next(line for line in lines if line.request_id == GLOBAL)
    assert line.global_request_id is None
    assert line.user_id == '25a1f0a4543740778deb98dc1ad33a97'
    assert line.project_id == '6578c273953945dc84d9078d73ff939a'
    assert line.service == 'glance'
    assert line.logger.startswith('glance.')


def test_sample_request_lines():
    """glance's version negotiation and keystone's REQUEST_METHOD/PATH_INFO
    lines are request lines with the method and path they name."""
    seen = 0
    for name in ('glance-api.log', 'keystone.log'):
        for data, _, line in parse_file(SAMPLES / name):
            text = data.decode()
            if 'Determining version of request: ' in text:
                words = text.split('Determining version of request: ')[1]
                method, path = words.split(' ')[:2]
            elif 'REQUEST_METHOD: `' in text:
                method, path = text.split('`')[1], None
            elif 'PATH_INFO: `' in text:
                method, path = None, text.split('`')[1]
            else:
                assert line.kind == model.KIND_LOG
                continue
            seen += 1
            assert line.kind == model.KIND_REQUEST
            assert (line.method, line.path) == (method, path)
            assert line.status is None
    assert seen == 46 + 140


def test_sample_debug_suffix_left_out_of_message():
    """oslo's debug suffix (funcName /path/file.py:123) is not message."""
    for data, _, line in parse_file(SAMPLES / 'glance-api.log'):
        text = data.decode()
        if ' DEBUG ' in text and re.search(r' /\S+\.py:[0-9]+$', text):
            assert not line.message.endswith(text.rsplit(' ', 1)[1])
            assert text.startswith(text[:text.rindex(' ')])


def test_sample_errors_and_traceback():
    """ERROR lines and every line of glance's traceback are errors."""
    results = parse_file(SAMPLES / 'glance-api.log')
    errors = [line for _, _, line in results if line.error]
    assert len(errors) == sum(1 for data, _, _ in results
                              if data.split(b' ')[3] == b'ERROR')
    frames = [line for line in errors if line.message.startswith('  File ')]
    assert len(frames) == 3
    assert any(line.message == 'Traceback (most recent call last):'
               for line in errors)
    assert all(line.logger == 'glance.common.wsgi' for line in frames)


def test_sample_local_times():
    """oslo.log times are local times without a zone (mktime semantics)."""
    for name in ('glance-api.log', 'keystone.log'):
        for data, _, line in parse_file(SAMPLES / name):
            stamp = ' '.join(data.decode().split(' ')[:2])
            assert line.time == pytest.approx(local_epoch(stamp), abs=1e-6)


def test_sample_continuation_lines_are_skipped():
    """A warning's continuation and a blank line are skipped with a reason.
    """
    results = parse_file(SAMPLES / 'keystone-manage.log')
    skipped = [(data, value) for data, kind, value in results
               if kind == 'skip']
    assert skipped == [(b'  warnings.warn(', 'unknown format'),
                       (b'', 'empty line')]


def test_local_time_follows_tz_in_a_real_process():
    """Times follow the machine's zone: 17:18 in JST-9 is 08:18 UTC."""
    code = ('from global_reqid.trace import parse, model;'
            'print(repr(parse.parse(model.RawLine("x", 0, b"2026-11-23 '
            '17:18:54.250 1 INFO a.b [-] m"))[1].time))')
    env = dict(os.environ, TZ='JST-9')
    out = subprocess.run([sys.executable, '-c', code], env=env, check=True,
                         capture_output=True, text=True).stdout
    expected = calendar.timegm((2026, 11, 23, 8, 18, 54)) + 0.25
    assert float(out) == expected


# oslo.log's own output, written through real handlers to real files


@pytest.fixture
def oslo_conf():
    conf = cfg.ConfigOpts()
    oslo_log.register_options(conf)
    conf(args=[], default_config_files=[])
    return conf


def log_to_file(path, formatter, emit, handler_class=logging.StreamHandler,
                name=None):
    """Run ``emit(logger)`` in a new thread (no oslo context is current
    there), logging through ``formatter`` to the file ``path``."""
    logger = logging.getLogger(name or 'glance.api.v2.%s' % uuid.uuid4().hex)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    errors = []

    def run():
        try:
            emit(logger)
        except Exception as error:  # reported by the test thread
            errors.append(error)

    with open(path, 'w', encoding='utf-8') as stream:
        handler = handler_class(stream)
        handler.setFormatter(formatter)
        handler.handleError = lambda record: errors.append(record)
        logger.addHandler(handler)
        try:
            thread = threading.Thread(target=run)
            thread.start()
            thread.join()
        finally:
            logger.removeHandler(handler)
    assert not errors, errors
    return logger.name


def ctx(request_id=LOCAL, global_request_id=GLOBAL, **kwargs):
    return oslo_context.RequestContext(
        request_id=request_id, global_request_id=global_request_id,
        user_id='u' * 32, project_id='p' * 32, overwrite=False, **kwargs)


def emit_oslo_lines(logger):
    # NOTE: first: the first context made in a thread becomes its current.
    logger.info('no context at all')
    logger.debug('Determining version of request: GET /v2/images Accept: '
                 '*/*', extra={'context': ctx()})
    logger.info('root request', extra={'context': ctx(
        global_request_id=None)})
    logger.info('an instance', extra={'context': ctx(),
                                      'instance_uuid': INSTANCE})
    logger.warning('password=hunter2 in a message',
                   extra={'context': ctx()})
    try:
        raise ValueError('broken')
    except ValueError:
        logger.exception('Upload failed', extra={'context': ctx()})


def oslo_stamp(text):
    """Local time of an oslo line's start, read by hand: oslo sets
    datefmt, a log_config_append formatter may not (",506.506")."""
    date, hms = text.split(' ')[:2]
    hms, _, fraction = hms.replace(',', '.').partition('.')
    return local_epoch('%s %s.%s' % (date, hms, fraction.split('.')[0]))


@pytest.mark.parametrize('datefmt', [True, False])
def test_oslo_text_default_format(tmp_path, oslo_conf, datefmt):
    """oslo.log's default text format: ids, identity, [-], instance,
    debug suffix, traceback lines, all read back."""
    path = tmp_path / 'glance-api.log'
    name = log_to_file(path, oslo_formatters.ContextFormatter(
        config=oslo_conf,
        datefmt=oslo_conf.log_date_format if datefmt else None),
        emit_oslo_lines)
    results = parse_file(path, parse.service_from_path(str(path)))
    assert all(kind == 'log' for _, kind, _ in results)
    lines = [line for _, _, line in results]
    bare, request, root, instance, secret, failed = lines[:6]
    frames = lines[6:]
    assert (request.kind, request.method, request.path) == (
        model.KIND_REQUEST, 'GET', '/v2/images')
    assert request.message == ('Determining version of request: GET '
                               '/v2/images Accept: */*')
    assert (request.global_request_id, request.request_id) == (GLOBAL, LOCAL)
    assert (request.user_id, request.project_id) == ('u' * 32, 'p' * 32)
    assert (request.logger, request.level, request.pid) == (
        name, 'DEBUG', os.getpid())
    assert request.service == 'glance-api'
    assert (root.global_request_id, root.request_id) == (None, LOCAL)
    assert (bare.global_request_id, bare.request_id) == (None, None)
    assert bare.message == 'no context at all'
    assert instance.message == 'an instance'
    assert INSTANCE in instance.text
    assert 'hunter2' not in secret.text + secret.message
    assert failed.error and failed.level == 'ERROR'
    assert failed.request_id == LOCAL
    assert frames and all(line.error for line in frames)
    assert frames[0].message == 'Traceback (most recent call last):'
    assert 'ValueError: broken' in [line.message for line in frames]
    for data, _, line in results:
        assert line.time == pytest.approx(oslo_stamp(data.decode()),
                                          abs=1e-6)


def test_our_text_formatter_root_rule(tmp_path, oslo_conf):
    """Our ContextFormatter's root rule: the local id in the global column.
    """
    path = tmp_path / 'glance-api.log'

    def emit(logger):
        with context.bound(context.RequestIds(LOCAL, None, 'glance-api')):
            logger.info('served')

    log_to_file(path, log.ContextFormatter(config=oslo_conf), emit)
    [(_, _, line)] = parse_file(path)
    assert (line.global_request_id, line.request_id) == (LOCAL, LOCAL)


@pytest.mark.parametrize('formatter', [oslo_formatters.JSONFormatter,
                                       log.JSONFormatter])
def test_json_formatter_records(tmp_path, formatter):
    """oslo.log's JSONFormatter and ours: created, level, logger, pid, ids,
    user, project and tracebacks are read."""
    path = tmp_path / 'glance-api.log'
    log_to_file(path, formatter(), emit_oslo_lines)
    records = [json.loads(data) for _, data in read_lines(path)]
    results = parse_file(path)
    assert len(results) == len(records) == 6
    for record, (_, kind, line) in zip(records, results, strict=True):
        assert kind == 'log'
        assert line.time == record['created']
        assert (line.level, line.logger, line.pid) == (
            record['levelname'], record['name'], record['process'])
        assert line.service == 'glance'
    bare, request, root, instance, secret, failed = [
        line for _, _, line in results]
    assert (request.kind, request.method, request.path) == (
        model.KIND_REQUEST, 'GET', '/v2/images')
    assert (request.global_request_id, request.request_id) == (GLOBAL, LOCAL)
    assert (request.user_id, request.project_id) == ('u' * 32, 'p' * 32)
    assert root.request_id == LOCAL
    assert bare.request_id is None and bare.global_request_id is None
    assert 'hunter2' not in secret.text + secret.message
    assert failed.error and not secret.error
    assert 'Traceback' in failed.text


def test_our_json_formatter_top_level_ids(tmp_path):
    """Ours puts the ids at the top level; they are read from there."""
    path = tmp_path / 'glance-api.log'

    def emit(logger):
        with context.bound(context.RequestIds(LOCAL, None, 'glance-api')):
            logger.info('served')

    log_to_file(path, log.JSONFormatter(), emit)
    [(data, _, line)] = parse_file(path)
    assert json.loads(data)['global_request_id'] == LOCAL
    assert (line.global_request_id, line.request_id) == (LOCAL, LOCAL)


# keystoneauth's session logger, from real calls to a local server

SECRET_IN_BODY = 's3cr3t-in-response-body'
SECRET_IN_REQUEST = 'p4ss-in-request-body'


class _Answer(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get('Content-Length') or 0)
        self.rfile.read(length)
        body = json.dumps({'image': {'id': INSTANCE},
                           'password': SECRET_IN_BODY}).encode()
        self.send_response(201)
        self.send_header('Content-Type', 'application/json')
        self.send_header('X-OpenStack-Request-ID', CALLEE)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Answer)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,),
                              daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def ksa_log(tmp_path, oslo_conf):
    """keystoneauth's loggers at DEBUG into an oslo-formatted file."""
    path = tmp_path / 'glance-api.log'
    handler = logging.FileHandler(path)
    handler.setFormatter(oslo_formatters.ContextFormatter(config=oslo_conf))
    logger = logging.getLogger('keystoneauth')
    saved = (logger.level, logger.propagate)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    yield path
    logger.removeHandler(handler)
    handler.close()
    logger.setLevel(saved[0])
    logger.propagate = saved[1]


@pytest.mark.parametrize('split', [False, True])
def test_keystoneauth_call_lines(server, ksa_log, split):
    """REQ:, RESP: and "call to" lines (split loggers or not) are call
    lines with method, URL, target, status and the callee's id; bodies
    are masked."""
    session = ksa_session.Session(split_loggers=split)
    images = ksa_adapter.Adapter(session, service_type='image',
                                 endpoint_override=server)
    images.post('/v2/images?name=x', authenticated=False,
                json={'name': 'x', 'password': SECRET_IN_REQUEST},
                headers={'X-Auth-Token': 'gAAAAABmy-token'})
    results = parse_file(ksa_log, 'glance-api')
    lines = [line for _, kind, line in results if kind == 'log']
    assert len(lines) == len(results) == 4
    req, resp, body, call = lines
    url = server + '/v2/images?name=x'
    assert (req.kind, req.method, req.url, req.path, req.target) == (
        model.KIND_CALL, 'POST', url, '/v2/images?name=x', server[7:])
    assert (resp.kind, resp.status, resp.callee_request_id) == (
        model.KIND_CALL, 201, CALLEE)
    assert body.kind == model.KIND_LOG
    assert (call.kind, call.method, call.target, call.url) == (
        model.KIND_CALL, 'POST', 'image', url)
    assert call.callee_request_id == CALLEE
    for line in lines:
        assert line.service == 'glance-api'
        for secret in (SECRET_IN_BODY, SECRET_IN_REQUEST, 'gAAAAABmy-token'):
            assert secret not in line.text + line.message
    assert INSTANCE in body.message  # masked as JSON, not wiped out
    assert (req.logger, body.logger) == (
        ('keystoneauth.session.request', 'keystoneauth.session.body')
        if split else ('keystoneauth.session', 'keystoneauth.session'))


# systemd journal exports (journalctl -o json)

DEVSTACK_CONTEXT = (
    '%(color)s%(levelname)s %(name)s [\x1b[01;36m%(global_request_id)s '
    '%(request_id)s \x1b[00;36m%(project_name)s %(user_name)s%(color)s] '
    '\x1b[01;35m%(instance)s%(color)s%(message)s\x1b[00m')
DEVSTACK_DEFAULT = ('%(color)s%(levelname)s %(name)s [\x1b[00;36m-'
                    '%(color)s] \x1b[01;35m%(instance)s%(color)s%(message)s'
                    '\x1b[00m')
DEVSTACK_SUFFIX = ('\x1b[00;33m{{(pid=%(process)d) %(funcName)s '
                   '%(pathname)s:%(lineno)d}}\x1b[00m')
DEVSTACK_EXCEPTION = 'ERROR %(name)s \x1b[01;35m%(instance)s\x1b[00m'
DEVSTACK_LOGGER = 'glance.api.v2.devstack'
JOURNAL_T0 = 1795454334810000  # 2026-11-23T17:18:54.81Z, in microseconds


def devstack_messages(oslo_conf, path):
    """What a devstack service writes to its unit's stdout: oslo.log's
    ColorHandler with devstack's format strings."""
    oslo_conf.set_override('logging_context_format_string', DEVSTACK_CONTEXT)
    oslo_conf.set_override('logging_default_format_string', DEVSTACK_DEFAULT)
    oslo_conf.set_override('logging_debug_format_suffix', DEVSTACK_SUFFIX)
    oslo_conf.set_override('logging_exception_prefix', DEVSTACK_EXCEPTION)
    formatter = oslo_formatters.ContextFormatter(config=oslo_conf)

    def emit(logger):
        logger.info('no context')  # NOTE: before any context is made
        devstack = ctx(user_name='admin', project_name='demo')
        logger.debug('Determining version of request: GET /v2/images '
                     'Accept: */*', extra={'context': devstack})
        try:
            raise ValueError('broken')
        except ValueError:
            logger.exception('Upload failed', extra={'context': devstack})

    log_to_file(path, formatter, emit, oslo_handlers.ColorHandler,
                name=DEVSTACK_LOGGER)
    return path.read_bytes().decode().splitlines()


def journal_entries(messages):
    """Journal entries of one devstack unit's lines, then a uwsgi access
    line and an oslo OSJournalHandler entry with a byte that is not UTF-8.
    """
    common = {'_BOOT_ID': '0123456789abcdef0123456789abcdef',
              '_HOSTNAME': 'ctl-1', '_TRANSPORT': 'stdout'}
    entries = []
    for index, message in enumerate(messages):
        entries.append(dict(
            common, __REALTIME_TIMESTAMP=str(JOURNAL_T0 + index * 1000),
            MESSAGE=message.encode(), PRIORITY='6', _PID='11117',
            SYSLOG_IDENTIFIER='glance-api',
            _SYSTEMD_UNIT='devstack@g-api.service'))
    entries.append(dict(
        common, __REALTIME_TIMESTAMP=str(JOURNAL_T0 + 90000),
        MESSAGE=(b'[pid: 2101|app: 0|req: 5/9] 127.0.0.1 () {64 vars in '
                 b'1319 bytes} [Mon Nov 23 17:18:54 2026] POST '
                 b'/identity/v3/auth/tokens => generated 6016 bytes in 150 '
                 b'msecs (HTTP/1.1 201) 6 headers in 394 bytes (1 switches '
                 b'on core 0)'),
        PRIORITY='6', _PID='2101', SYSLOG_IDENTIFIER='uwsgi',
        _SYSTEMD_UNIT='devstack@keystone.service'))
    entries.append(dict(
        common, __REALTIME_TIMESTAMP=str(JOURNAL_T0 + 99000),
        MESSAGE=b'Instance disk \xff not found', PRIORITY='3',
        _PID='3001', SYSLOG_IDENTIFIER='nova-compute', _TRANSPORT='journal',
        LOGGER_NAME='nova.compute.manager', LOGGER_LEVEL='ERROR',
        REQUEST_ID=LOCAL, CODE_FILE='/opt/stack/nova/nova/compute/mgr.py'))
    return entries


def journal_export(entries):
    """systemd's journal export format of ``entries``."""
    out = bytearray()
    for entry in entries:
        for key, value in entry.items():
            if isinstance(value, str):
                value = value.encode()
            if b'\n' in value or any(b < 32 or b >= 127 for b in value):
                out += key.encode() + b'\n' + struct.pack('<Q', len(value))
                out += value + b'\n'
            else:
                out += key.encode() + b'=' + value + b'\n'
        out += b'\n'
    return bytes(out)


def check_journal(path):
    """What the journal export of journal_entries() must read as."""
    results = parse_file(path)
    assert all(kind == 'log' for _, kind, _ in results)
    lines = [line for _, _, line in results]
    bare, request, failed = lines[:3]
    frames, access, nova = lines[3:-2], lines[-2], lines[-1]
    assert (request.kind, request.method, request.path) == (
        model.KIND_REQUEST, 'GET', '/v2/images')
    assert (request.global_request_id, request.request_id) == (GLOBAL, LOCAL)
    assert request.user_id is None  # "demo admin" does not say which is who
    assert request.message == ('Determining version of request: GET '
                               '/v2/images Accept: */*')
    assert (request.service, request.pid, request.logger, request.level) == (
        'g-api', 11117, DEVSTACK_LOGGER, 'DEBUG')
    assert request.time == (JOURNAL_T0 + 1000) / 1e6
    assert not request.error
    assert (bare.request_id, bare.message) == (None, 'no context')
    assert failed.error and failed.request_id == LOCAL
    assert frames and all(line.error for line in frames)
    assert frames[0].message == 'Traceback (most recent call last):'
    assert (access.kind, access.method, access.path, access.status) == (
        model.KIND_ACCESS, 'POST', '/identity/v3/auth/tokens', 201)
    assert access.duration_ms == 150.0 and access.service == 'keystone'
    assert access.time == (JOURNAL_T0 + 90000) / 1e6
    assert (nova.service, nova.logger, nova.level, nova.request_id) == (
        'nova-compute', 'nova.compute.manager', 'ERROR', LOCAL)
    assert nova.error and nova.message == 'Instance disk \ufffd not found'
    for line in lines:
        assert not CONTROL.search(line.text + line.message)


def test_journal_export_fixture():
    """A committed real `journalctl -o json` export reads as devstack logged
    it: MESSAGE as text or byte lists, colours gone, unit names."""
    path = DATA / 'journal.json'
    lines = path.read_text().splitlines()
    assert any(isinstance(json.loads(line)['MESSAGE'], list)
               for line in lines)
    check_journal(path)


@pytest.mark.skipif(not (os.path.exists(JOURNAL_REMOTE)
                         and shutil.which('journalctl')),
                    reason='needs systemd-journal-remote and journalctl')
def test_journal_real_journalctl(tmp_path, oslo_conf):
    """Entries written to a real journal file and exported by journalctl
    read the same as the committed fixture."""
    messages = devstack_messages(oslo_conf, tmp_path / 'stdout')
    journal = tmp_path / 'devstack.journal'
    subprocess.run([JOURNAL_REMOTE, '-o', str(journal), '-'], check=True,
                   input=journal_export(journal_entries(messages)),
                   capture_output=True)
    exported = subprocess.run(
        ['journalctl', '--file', str(journal), '-o', 'json'], check=True,
        capture_output=True).stdout
    path = tmp_path / 'journal.json'
    path.write_bytes(exported)
    check_journal(path)
    fixture = [line for _, _, line in parse_file(DATA / 'journal.json')]
    fresh = [line for _, _, line in parse_file(path)]
    for old, new in zip(fixture, fresh, strict=True):
        # The traceback's line numbers and paths may differ.
        if not new.message.startswith('  '):
            assert old.message == new.message
        assert (old.kind, old.time, old.request_id, old.error) == (
            new.kind, new.time, new.request_id, new.error)


# Access line formats


def test_access_nova_style_in_oslo_line():
    """nova/placement: status: len: microversion: time: with context ids.
    """
    line = parse_log(
        '2026-11-23 17:18:54.810 11117 INFO nova.api.openstack.requestlog '
        '[%s %s admin demo - - -] 127.0.0.1 "GET /v2.1/servers/detail?'
        'limit=1 HTTP/1.1" status: 200 len: 1234 microversion: 2.1 time: '
        '0.0523' % (GLOBAL, LOCAL))
    assert (line.kind, line.method, line.path, line.status) == (
        model.KIND_ACCESS, 'GET', '/v2.1/servers/detail?limit=1', 200)
    assert line.duration_ms == pytest.approx(52.3)
    assert (line.global_request_id, line.request_id) == (GLOBAL, LOCAL)
    assert line.time == pytest.approx(
        local_epoch('2026-11-23 17:18:54.810'))


def test_access_in_oslo_line_takes_context_ids():
    """An access message's own ids do not replace the context column's."""
    line = parse_log(
        '2026-11-23 17:18:54.810 7 INFO glance.wsgi [%s %s - - - - - -] '
        '[23/Nov/2026:17:18:54 +0000] pid=<7> 127.0.0.1 "GET / HTTP/1.1" '
        '200 2 0.1s in_reqid=%s out_reqid=%s' % (GLOBAL, LOCAL, CALLEE,
                                                  CALLEE))
    assert (line.kind, line.status) == (model.KIND_ACCESS, 200)
    assert (line.global_request_id, line.request_id) == (GLOBAL, LOCAL)
    assert line.inbound_request_id == line.callee_request_id == CALLEE


def test_access_placement_without_time():
    """placement's request log has no time: duration stays unknown."""
    line = parse_log(
        '2026-11-23 17:18:54.810 7 INFO placement.requestlog [-] 10.0.0.5 '
        '"GET /resource_providers" status: 200 len: 15 microversion: 1.39')
    assert (line.kind, line.status, line.duration_ms) == (
        model.KIND_ACCESS, 200, None)


def test_access_eventlet_in_oslo_line():
    """eventlet's wsgi line: seconds at the end, the oslo line's time."""
    line = parse_log(
        '2026-11-23 17:18:54.810 11117 INFO eventlet.wsgi.server [%s %s - - '
        '- - - -] 127.0.0.1 - - [23/Nov/2026 17:18:54] "GET /v2/images '
        'HTTP/1.1" 200 996 0.681778' % (GLOBAL, LOCAL))
    assert (line.kind, line.method, line.path, line.status) == (
        model.KIND_ACCESS, 'GET', '/v2/images', 200)
    assert line.duration_ms == pytest.approx(681.778)
    assert line.time == pytest.approx(
        local_epoch('2026-11-23 17:18:54.810'))


@pytest.mark.parametrize('tail,duration', [
    (' "-" "python-requests/2.31" 5123', 5.123),
    (' 5123', 5.123),
    ('', None),
    (' "-" "curl/8"', None),
])
def test_access_apache(tail, duration):
    """Apache common/combined lines, %D microseconds when present."""
    line = parse_log('10.0.0.1 - - [23/Nov/2026:17:18:54 +0100] "GET '
                     '/identity/v3?x=1 HTTP/1.1" 200 250' + tail,
                     source='/var/log/apache2/keystone_access.log')
    assert (line.kind, line.method, line.path, line.status) == (
        model.KIND_ACCESS, 'GET', '/identity/v3?x=1', 200)
    assert line.duration_ms == duration
    assert line.time == calendar.timegm((2026, 11, 23, 16, 18, 54))
    assert line.service == 'keystone'


def test_access_path_secrets_masked():
    """A token in a path and a password in a query are masked."""
    line = parse_log(
        '[23/Nov/2026:17:18:54 +0000] pid=<1> 127.0.0.1 "GET /v2.0/tokens/'
        'gAAAAABtok3n?password=hunter2&a=b HTTP/1.1" 200 2 0.1s '
        'in_reqid=- out_reqid=-')
    assert 'gAAAAABtok3n' not in line.path + line.text
    assert 'hunter2' not in line.path + line.text
    assert line.path.startswith('/v2.0/tokens/{SHA256}')
    assert line.path.endswith('?password=***&a=b')


# Edge cases


def test_none_global_and_dash_context():
    """`None` in the global slot and a `[-]` column mean no id."""
    line = parse_log('2026-11-23 17:18:54.810 1 INFO glance.api [None %s - - '
                     '- - - -] hello' % LOCAL)
    assert (line.global_request_id, line.request_id) == (None, LOCAL)
    line = parse_log('2026-11-23 17:18:54.810 1 INFO glance.api [-] hello')
    assert (line.global_request_id, line.request_id) == (None, None)
    assert line.message == 'hello'


def test_bare_uuid_ids_are_normalized():
    """kolla's central logging keeps ids without req-: they count."""
    line = parse_log('2026-11-23 17:18:54.810 1 INFO nova.api [%s %s - - - - '
                     '- -] hi' % (GLOBAL[4:], LOCAL[4:]))
    assert (line.global_request_id, line.request_id) == (GLOBAL, LOCAL)


@pytest.mark.parametrize('bad', [
    'req-not-a-valid-id', GLOBAL.upper(), GLOBAL + 'ab', GLOBAL[:-1],
    GLOBAL + '-114706f0-660f-4cd8-bb83-8840fa4ea7bd', 'req-' + 'g' * 36])
def test_invalid_ids_are_dropped(bad):
    """Anything but req-<lowercase uuid> (or a bare uuid) is no id."""
    line = parse_log('2026-11-23 17:18:54.810 1 INFO glance.api [%s %s - - - '
                     '- - -] hi' % (bad, bad))
    assert (line.global_request_id, line.request_id) == (None, None)
    line = parse_log('[23/Nov/2026:17:18:54 +0000] pid=<1> 127.0.0.1 "GET / '
                     'HTTP/1.1" 300 2 0.1s in_reqid=%s out_reqid=%s'
                     % (bad, bad))
    assert line.inbound_request_id is None
    assert line.callee_request_id is None


def test_older_oslo_context_without_global_column():
    """[req-L user project ...] (oslo.log before global ids): a local id."""
    line = parse_log('2026-11-23 17:18:54.810 1 INFO nova.api [%s admin demo]'
                     ' hi' % LOCAL)
    assert (line.global_request_id, line.request_id) == (None, LOCAL)


def test_ansi_escapes_are_neutralised():
    """Colours are dropped; any other control character is replaced."""
    line = parse_log('2026-11-23 17:18:54.810 1 ERROR glance.api [-] \x1b[31m'
                     'red\x1b[0m \x1b]0;title\x07 \x1b[2J\x9b1m\r bell\x07')
    assert line.message.startswith('red \ufffd]0;title\ufffd')
    assert not CONTROL.search(line.text + line.message)
    assert line.error


def test_truncated_json_is_skipped():
    """A JSON record cut short is a skip, not a log line."""
    kind, reason = parse.parse(raw('{"message": "hello", "levelname": "IN'))
    assert (kind, reason) == ('skip', 'truncated or corrupt JSON')


@pytest.mark.parametrize('data,reason', [
    (b'\x00\x01\x02\x89PNG\x00\xff', 'binary data'),
    (b'\xff\xfe\xfd garbage', 'unknown format'),
    (b'   ', 'empty line'),
    (b'[1, 2]', 'unknown format'),
    (b'{"what": 1}', 'unknown JSON record'),
    (b'{"MESSAGE": [1, 999], "__REALTIME_TIMESTAMP": "1"}',
     'journal MESSAGE that is not bytes'),
])
def test_garbage_is_skipped_with_a_reason(data, reason):
    """Binary garbage, blank lines and odd JSON are skips with reasons."""
    assert parse.parse(raw(data)) == ('skip', reason)


def test_huge_line_is_cut_and_still_parsed():
    """A 4 MB line keeps its fields; text and message are cut short."""
    message = 'x' * (4 << 20)
    line = parse_log('2026-11-23 17:18:54.810 1 INFO glance.api [%s %s - - - '
                     '- - -] %s' % (GLOBAL, LOCAL, message))
    assert (line.global_request_id, line.request_id) == (GLOBAL, LOCAL)
    assert len(line.text) < parse.MAX_TEXT + 100
    assert len(line.message) < parse.MAX_TEXT + 100
    assert line.message.endswith('...[truncated, %d chars]' % len(message))


def test_event_line_is_returned_as_an_event():
    """A sequence event line is an ('event', dict), as written."""
    event = {'v': schema.VERSION, 'kind': 'server', 'global_request_id': None,
             'request_id': GLOBAL, 'root': True, 'service': 'glance-api',
             'method': 'GET', 'path': '/v2/images', 'status': 200,
             'start': 1795454334.81, 'duration_ms': 4.2}
    data = schema.to_json(event).encode()
    assert parse.parse(raw(data)) == ('event', json.loads(data))


def test_password_in_resp_body_is_masked():
    """keystoneauth does not mask bodies: a password in one is masked."""
    line = parse_log('2026-11-23 17:18:54.810 1 DEBUG keystoneauth.session '
                     '[%s %s - - - - - -] RESP BODY: {"user": {"name": "a", '
                     '"password": "hunter2"}}' % (GLOBAL, LOCAL))
    assert 'hunter2' not in line.text + line.message
    assert '"name": "a"' in line.message
    assert line.request_id == LOCAL


def test_service_names():
    """service: the hint, else the journal unit or program, else the
    logger's top package (libraries excepted), else the file name."""
    text = '2026-11-23 17:18:54.810 1 INFO glance.api.v2 [-] hi'
    assert parse_log(text, 'g-api').service == 'g-api'
    assert parse_log(text).service == 'glance'
    lib = '2026-11-23 17:18:54.810 1 INFO keystonemiddleware.auth [-] hi'
    assert parse_log(lib, source='/var/log/glance/glance-api.log.1'
                     ).service == 'glance-api'
    assert parse_log(lib, source='-').service == 'keystonemiddleware'


@pytest.mark.parametrize('path,service', [
    ('/var/log/glance/glance-api.log.2.gz', 'glance-api'),
    ('/var/log/glance/glance-api.log', 'glance-api'),
    ('keystone-access.log', 'keystone'),
    ('keystone_access.log', 'keystone'),
    ('/var/log/kolla/nova/nova-api.log', 'nova-api'),
    ('n-api.log', 'n-api'),
    ('/var/log/nova/nova-api.log-20261123', 'nova-api'),
    ('/var/log/nova/nova-api.log-20261123.gz', 'nova-api'),
    ('/var/log/nova/nova-api-20261123.log', 'nova-api'),
    ('/var/log/nova/nova-api.log.1', 'nova-api'),
    ('/var/log/apache2/keystone-error.log', 'keystone'),
    ('logs/screen-n-cpu.txt.gz', 'n-cpu'),
    ('/var/lib/global-reqid/events/glance-api.ctl-1.4242.jsonl.1.gz',
     'glance-api'),
    ('-', None),
    ('journal', None),
    ('/var/log/apache2/access.log', None),
    ('/var/log/syslog.1', None),
    ('', None),
])
def test_service_from_path(path, service):
    """File names give participants; rotation and role suffixes go."""
    assert parse.service_from_path(path) == service


def test_syslog_line():
    """A syslog line: program name and pid, then the oslo line."""
    line = parse_log('Nov 23 17:18:54 ctl-1 glance-api[11117]: 2026-11-23 '
                     '17:18:54.810 11117 INFO glance.api.v2 [%s %s - - - - '
                     '- -] hi' % (GLOBAL, LOCAL), source='/var/log/syslog')
    assert (line.service, line.pid, line.request_id) == (
        'glance-api', 11117, LOCAL)
    assert line.time == pytest.approx(local_epoch('2026-11-23 '
                                                  '17:18:54.810'))


# Fuzz: no input makes parse raise, and what it returns is safe

_KEYS = ['message', 'MESSAGE', 'created', 'context', 'levelname', 'name',
         'process', 'request_id', 'global_request_id', 'traceback', 'v',
         'kind', '__REALTIME_TIMESTAMP', 'PRIORITY', '_PID', '_SYSTEMD_UNIT',
         'SYSLOG_IDENTIFIER', 'LOGGER_NAME', 'LOGGER_LEVEL', 'REQUEST_ID',
         'asctime', 'user_id', 'project_id']
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text()
    | st.sampled_from([GLOBAL, LOCAL[4:], '7', '1795454334810000',
                       'devstack@g-api.service']),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=8),
                      children, max_size=4),
    max_leaves=12)
_PREFIXES = [
    '2026-11-23 17:18:54.810 11117 DEBUG glance.api [None %s - - - - - -] '
    % LOCAL,
    '2026-11-23 17:18:54.810 11117 ERROR glance.api ',
    'DEBUG keystoneauth.session [%s %s] ' % (GLOBAL, LOCAL),
    '[23/Nov/2026:17:18:54 +0000] pid=<1> 127.0.0.1 "GET / HTTP/1.1" 200 ',
    '127.0.0.1 - - [23/Nov/2026 17:18:54] "GET /v3 HTTP/1.1" 200 ',
    'Nov 23 17:18:54 ctl-1 glance-api[11117]: ',
    'REQ: curl -g -i -X GET ', 'RESP: [200] ', 'GET call to identity for ',
    '[pid: 1|app: 0|req: 1/1] 127.0.0.1 () {1 vars in 2 bytes} ',
]
_TEXT_TAILS = st.text(alphabet=st.characters(codec='utf-8'), max_size=300)


def check_result(result):
    kind, value = result
    assert kind in ('event', 'log', 'skip')
    if kind == 'skip':
        assert isinstance(value, str)
        assert not value.startswith('parser error'), value
    elif kind == 'event':
        assert type(value) is dict
    else:
        assert isinstance(value, model.LogLine)
        assert not CONTROL.search(value.text + value.message)
        for name in ('global_request_id', 'request_id', 'callee_request_id',
                     'inbound_request_id'):
            assert getattr(value, name) in (None, valid(getattr(value, name)))
        assert value.time is None or math.isfinite(value.time)
        assert value.status is None or 100 <= value.status <= 999
        for name in ('service', 'logger', 'level', 'user_id', 'project_id',
                     'path', 'url', 'target', 'method'):
            field = getattr(value, name)
            assert field is None or not CONTROL.search(field)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_bytes(data):
    """Arbitrary bytes never make parse raise."""
    check_result(parse.parse(raw(data)))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_PREFIXES), _TEXT_TAILS)
def test_fuzz_after_real_prefixes(prefix, tail):
    """Real line starts followed by anything never make parse raise."""
    check_result(parse.parse(raw((prefix + tail).encode('utf-8',
                                                        'surrogatepass'))))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), _JSON_VALUES, max_size=8))
def test_fuzz_json_records(record):
    """JSON objects with the keys we read, holding any values, never make
    parse raise."""
    data = json.dumps(record).encode()
    check_result(parse.parse(raw(data)))
    check_result(parse.parse(raw(data[:len(data) // 2])))


def test_oslo_service_default_access_format_parses():
    """oslo.service's default wsgi_log_format (two spaces before len)."""
    line = ('2026-11-23 17:18:54.810 11117 INFO neutron.wsgi '
            '[req-6a1f2e3d-4c5b-4a69-9788-a6b5c4d3e2f1 '
            'req-7a1f2e3d-4c5b-4a69-9788-a6b5c4d3e2f1 u p - - -] 127.0.0.1 '
            '"GET /v2.0/ports?device_id=x HTTP/1.1" status: 200  len: 1234 '
            'time: 0.0123456')
    kind, value = parse.parse(model.RawLine('neutron-server.log', 0,
                                            line.encode()), 'neutron-server')
    assert kind == 'log'
    assert (value.kind, value.method, value.status) == ('access', 'GET', 200)
    assert value.path.startswith('/v2.0/ports')
    assert value.duration_ms == pytest.approx(12.3456)
