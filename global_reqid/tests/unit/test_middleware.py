"""Rules of the request id filter, checked in-process with WebTest."""

import logging
import threading

from oslo_config import cfg
from oslo_context import context as oslo_context
import pytest
import webtest

from global_reqid import context as reqid_context
from global_reqid import ids
from global_reqid import middleware

GLOBAL = 'req-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'
PARENT = 'req-11111111-2222-4333-8444-555555555555'
INVALID = [
    GLOBAL + '\n',
    GLOBAL.upper(),
    GLOBAL + '0',
    'req-not-a-valid-id',
    'x' * 300,
    '',
    'req-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f\u0669',
]


def recording_app(seen):
    """A WSGI app that records what it saw of the request's ids."""

    def app(environ, start_response):
        oslo = oslo_context.get_current()
        seen.append({
            'environ': dict(environ),
            'current': reqid_context.current(),
            'oslo': (oslo.request_id, oslo.global_request_id)
            if oslo else None,
        })
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'ok']

    return app


def make(seen=None, **conf):
    seen = [] if seen is None else seen
    conf.setdefault('service_name', 'test-api')
    return seen, webtest.TestApp(
        middleware.RequestId(recording_app(seen), conf))


def test_valid_inbound_id_becomes_global_and_local_is_fresh():
    """A valid inbound id is the global id; the local id is new and answered."""
    seen, app = make()
    resp = app.get('/', headers={'X-OpenStack-Request-ID': GLOBAL})
    env = seen[0]['environ']
    assert env[ids.ENV_GLOBAL_REQUEST_ID] == GLOBAL
    local = env[ids.ENV_REQUEST_ID]
    assert ids.is_valid_request_id(local) and local != GLOBAL
    assert resp.headers['x-openstack-request-id'] == local


def test_no_inbound_id_sets_no_global_key():
    """Without an inbound id the environ has no global key, as with oslo."""
    seen, app = make()
    app.get('/')
    assert ids.ENV_GLOBAL_REQUEST_ID not in seen[0]['environ']
    assert seen[0]['current'].global_id == seen[0]['current'].request_id


def test_header_name_matched_case_insensitively():
    """The inbound header is found whatever its case on the wire."""
    seen, app = make()
    app.get('/', headers={'x-openstack-request-id': GLOBAL})
    assert seen[0]['environ'][ids.ENV_GLOBAL_REQUEST_ID] == GLOBAL


@pytest.mark.parametrize('bad', INVALID)
def test_invalid_inbound_id_is_dropped_counted_never_echoed(bad):
    """An invalid id is dropped, counted, and appears in no output."""
    seen, app = make()
    filt = app.app
    resp = app.get('/', headers={'X-OpenStack-Request-ID': bad})
    assert resp.status_int == 200
    env = seen[0]['environ']
    assert ids.ENV_GLOBAL_REQUEST_ID not in env
    # The app downstream sees our fresh local id, never the raw value.
    assert env[ids.HTTP_REQUEST_ID] == env[ids.ENV_REQUEST_ID]
    if bad:
        assert bad not in str(resp.headers) and bad.encode() not in resp.body
    assert filt.dropped['request_id'] == 1


def test_invalid_id_reported_at_debug_as_safe_truncated_repr(caplog):
    """The DEBUG report escapes newlines and truncates long values."""
    _, app = make()
    caplog.set_level(logging.DEBUG, logger='global_reqid.middleware')
    app.get('/', headers={'X-OpenStack-Request-ID': 'req-1\nINJECTED'})
    app.get('/', headers={'X-OpenStack-Request-ID': 'y' * 5000})
    text = '\n'.join(r.getMessage() for r in caplog.records)
    assert '\nINJECTED' not in text and '\\nINJECTED' in text
    assert 'y' * 100 not in text and '(5000 chars)' in text
    assert all(r.levelno == logging.DEBUG for r in caplog.records)


def test_answer_keeps_header_the_app_set():
    """An id the app already answered (any case) is not overwritten."""

    def app(environ, start_response):
        start_response('200 OK', [('x-openstack-request-id', 'req-app')])
        return [b'']

    resp = webtest.TestApp(middleware.RequestId(app, {})).get('/')
    assert resp.headers.getall('X-OpenStack-Request-ID') == ['req-app']


def test_compat_headers_carry_the_local_id():
    """compat_headers (nova's x-compute-request-id) answer the local id."""
    seen, app = make(compat_headers='x-compute-request-id, x-other-id')
    resp = app.get('/')
    local = seen[0]['environ'][ids.ENV_REQUEST_ID]
    assert resp.headers['x-compute-request-id'] == local
    assert resp.headers['x-other-id'] == local


def test_trace_links_validated_and_kept():
    """Valid caller and parent headers land in our environ keys."""
    seen, app = make()
    app.get('/', headers={ids.CALLER_HEADER: 'nova-api',
                          ids.PARENT_HEADER: PARENT,
                          'X-OpenStack-Request-ID': GLOBAL})
    env, cur = seen[0]['environ'], seen[0]['current']
    assert env[ids.ENV_CALLER] == 'nova-api'
    assert env[ids.ENV_PARENT_REQUEST_ID] == PARENT
    assert (cur.caller, cur.parent_request_id, cur.service) == (
        'nova-api', PARENT, 'test-api')


@pytest.mark.parametrize('caller,parent', [
    ('x' * 65, PARENT + '\n'),
    ('bad name', 'req-1'),
    ('nova\napi', PARENT.upper()),
])
def test_invalid_trace_links_dropped_and_counted(caller, parent):
    """Invalid trace links are removed from the environ and counted."""
    seen, app = make()
    filt = app.app
    app.get('/', headers={ids.CALLER_HEADER: caller,
                          ids.PARENT_HEADER: parent})
    env = seen[0]['environ']
    for key in (ids.ENV_CALLER, ids.ENV_PARENT_REQUEST_ID, ids.HTTP_CALLER,
                ids.HTTP_PARENT):
        assert key not in env
    assert filt.dropped == {'request_id': 0, 'caller': 1, 'parent': 1}


def test_ids_current_while_served_and_reset_after():
    """Our holder and oslo's current context hold this request's ids only."""
    seen, app = make()
    app.get('/', headers={'X-OpenStack-Request-ID': GLOBAL})
    local = seen[0]['environ'][ids.ENV_REQUEST_ID]
    assert seen[0]['current'] == reqid_context.RequestIds(
        local, GLOBAL, 'test-api', None, None)
    assert seen[0]['oslo'] == (local, GLOBAL)
    assert reqid_context.current() is None
    assert oslo_context.get_current() is None


def test_previous_oslo_context_restored():
    """A context current before the request is current again after it."""
    outer = oslo_context.RequestContext(request_id='req-outer')
    seen, app = make()
    app.get('/')
    assert seen[0]['oslo'][0] != 'req-outer'
    assert oslo_context.get_current() is outer


def test_streamed_body_keeps_ids_until_close():
    """A streamed body sees the ids while iterated; close() resets them."""
    during, closed = [], []

    class Body:
        def __iter__(self):
            during.append(reqid_context.current())
            yield b'chunk'

        def close(self):
            closed.append(reqid_context.current())

    def app(environ, start_response):
        start_response('200 OK', [])
        return Body()

    filt = middleware.RequestId(app, {'service_name': 's'})
    result = filt({'REQUEST_METHOD': 'GET', 'PATH_INFO': '/'},
                  lambda s, h, e=None: None)
    assert b''.join(result) == b'chunk'
    assert during[0] is not None
    result.close()
    assert closed[0] == during[0]
    assert reqid_context.current() is None
    result.close()  # a second close is harmless


def test_app_exception_resets_ids_and_propagates():
    """An exception in the app still ends the request's ids."""

    def app(environ, start_response):
        raise RuntimeError('boom')

    filt = middleware.RequestId(app, {})
    with pytest.raises(RuntimeError):
        filt({'REQUEST_METHOD': 'GET'}, lambda s, h, e=None: None)
    assert reqid_context.current() is None
    assert oslo_context.get_current() is None


def test_unknown_paste_option_is_a_load_error():
    """A misspelled paste key fails at load time, naming the key."""
    with pytest.raises(middleware.ConfigError, match='servce_name'):
        middleware.RequestId.factory({}, servce_name='glance-api')
    with pytest.raises(middleware.ConfigError, match='bogus'):
        middleware.RequestId(None, {'bogus': '1'})


def test_paste_default_section_known_keys_apply_others_ignored():
    """[DEFAULT] keys of other filters are ignored; ours apply; local wins."""
    filt = middleware.RequestId.factory(
        {'debug': 'true', 'service_name': 'from-default',
         'compat_headers': 'x-a'}, service_name='local')(None)
    assert filt.service_name == 'local'
    assert filt.answer_headers == ('X-OpenStack-Request-ID', 'x-a')


def test_options_from_oslo_config():
    """A ConfigOpts gives the [global_reqid] values."""
    conf = cfg.ConfigOpts()
    conf([])
    filt = middleware.RequestId(None, conf)
    conf.set_override('service_name', 'cinder-api', group='global_reqid')
    filt = middleware.RequestId(None, conf)
    assert filt.service_name == 'cinder-api'


def test_oslo_config_project_reads_its_file(tmp_path):
    """oslo_config_project/oslo_config_file load options as oslo does."""
    path = tmp_path / 'svc.conf'
    path.write_text('[global_reqid]\nservice_name = from-file\n'
                    'compat_headers = x-compute-request-id\n')
    filt = middleware.RequestId(None, {'oslo_config_project': 'svc',
                                       'oslo_config_file': str(path)})
    assert filt.service_name == 'from-file'
    assert 'x-compute-request-id' in filt.answer_headers


@pytest.mark.parametrize('conf', [
    {'service_name': 'bad name'},
    {'service_name': 'x' * 65},
    {'compat_headers': 'x-ok, bad header'},
    {'compat_headers': 'x-ok:colon'},
])
def test_bad_option_values_are_load_errors(conf):
    """Invalid option values fail at load time with a ConfigError."""
    with pytest.raises(middleware.ConfigError):
        middleware.RequestId(None, conf)


@pytest.mark.parametrize('paste_file,expected', [
    ('/etc/glance/glance-api-paste.ini', 'glance-api'),
    ('/etc/nova/api-paste.ini', 'nova-api'),
    ('/etc/cinder/api-paste.ini', 'cinder-api'),
    ('/etc/swift/proxy-server.conf', 'swift-proxy-server'),
    ('/etc/trove/api-paste.ini', 'trove-api'),
])
def test_default_service_name_from_paste_file(paste_file, expected):
    """The service name is derived from the api-paste.ini path."""
    assert middleware.default_service_name(paste_file) == expected


def test_default_service_name_fallbacks():
    """Without a paste file: oslo prog/project, then the program name."""
    conf = cfg.ConfigOpts()
    conf([], project='placement')
    assert middleware.default_service_name(None, conf) == 'placement'
    assert middleware.default_service_name(
        None, None, '/usr/bin/nova-api') == 'nova-api'
    assert middleware.default_service_name(
        None, None, '/usr/bin/gunicorn') == 'unknown'


def _collect(headers):
    def start_response(status, response_headers, exc_info=None):
        headers.update(response_headers)
    return start_response


def test_concurrent_requests_never_mix_ids():
    """Threads through one filter instance each see only their own ids."""
    barrier = threading.Barrier(8)
    errors = []

    def app(environ, start_response):
        barrier.wait(timeout=10)
        held = reqid_context.current()
        oslo = oslo_context.get_current()
        local = environ[ids.ENV_REQUEST_ID]
        if (held.request_id, oslo.request_id) != (local, local) or (
                held.global_request_id
                != environ.get(ids.ENV_GLOBAL_REQUEST_ID)):
            errors.append((local, held, oslo.request_id))
        barrier.wait(timeout=10)
        start_response('200 OK', [])
        return [local.encode()]

    filt = middleware.RequestId(app, {})
    answers = []

    def worker(n):
        for _ in range(20):
            sent = ids.new_request_id() if n % 2 else None
            env = {'REQUEST_METHOD': 'GET'}
            if sent:
                env[ids.HTTP_REQUEST_ID] = sent
            headers = {}
            body = b''.join(filt(env, _collect(headers)))
            answers.append(body.decode() == headers[ids.REQUEST_ID_HEADER])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert answers.count(True) == 160


def test_swift_paste_loader_name_key_accepted():
    """swift's paste loader adds ``__name__`` to every section: accepted."""
    filt = middleware.RequestId.factory(
        {'__file__': '/etc/swift/proxy-server.conf', 'here': '/etc/swift'},
        __name__='global_reqid')(None)
    assert filt.service_name == 'swift-proxy-server'


def test_upstream_global_key_removed_when_inbound_is_invalid():
    """A global key set upstream from a value we reject does not survive."""
    seen, app = make()
    filt = app.app
    env = {'REQUEST_METHOD': 'GET', ids.HTTP_REQUEST_ID: GLOBAL + '\n',
           ids.ENV_GLOBAL_REQUEST_ID: GLOBAL + '\n'}
    filt(env, lambda s, h, e=None: None)
    assert ids.ENV_GLOBAL_REQUEST_ID not in seen[0]['environ']
    assert seen[0]['current'].global_request_id is None


@pytest.mark.parametrize('inbound,expected', [
    (GLOBAL, GLOBAL),
    (GLOBAL + '\n', None),
    (None, None),
])
def test_downstream_request_id_global(inbound, expected):
    """downstream_request_id = global: the app sees the valid global id."""
    seen, app = make(downstream_request_id='global')
    headers = {} if inbound is None else {'X-OpenStack-Request-ID': inbound}
    app.get('/', headers=headers)
    assert seen[0]['environ'].get(ids.HTTP_REQUEST_ID) == expected


def test_downstream_request_id_rejects_unknown_choice():
    """downstream_request_id accepts only local or global."""
    with pytest.raises(middleware.ConfigError):
        middleware.RequestId(None, {'downstream_request_id': 'raw'})


def test_app_passing_header_tuple_still_answered():
    """An app that passes a tuple of headers is still answered the id."""

    def app(environ, start_response):
        start_response('200 OK', (('Content-Type', 'text/plain'),))
        return [b'']

    resp = webtest.TestApp(middleware.RequestId(app, {})).get('/')
    assert ids.is_valid_request_id(resp.headers['X-OpenStack-Request-ID'])
