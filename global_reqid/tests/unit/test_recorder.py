"""One server event per request, written when the response is finished."""

import io
import json

import pytest
import webtest

from global_reqid import context
from global_reqid import ids
from global_reqid.events import recorder
from global_reqid.events import schema

GLOBAL = 'req-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'
LOCAL = 'req-11111111-2222-4333-8444-555555555555'
PARENT = 'req-66666666-7777-4888-9999-aaaaaaaaaaaa'
TOKEN = 'gAAAAABsecret-token-value-0123456789'


class ListSink:
    """Keeps emitted events in memory, as serialized by the schema."""

    def __init__(self):
        self.events = []

    def emit(self, event):
        self.events.append(json.loads(schema.to_json(event)))
        return True


def serve(app, environ=None, held=None, **kw):
    sink = ListSink()
    rec = recorder.Recorder([sink], host='ctl-1', **kw)
    ended = []
    env = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/v2/images',
           'SCRIPT_NAME': '', 'wsgi.input': io.BytesIO(b'')}
    env.update(environ or {})
    held = held or context.RequestIds(LOCAL, GLOBAL, 'glance-api',
                                      'nova-api', PARENT)
    result = rec.serve(app, env, lambda s, h, e=None: None, held,
                       lambda: ended.append(True))
    return sink, ended, result


def test_event_fields_for_a_plain_response():
    """A list body yields one complete v1 server event at once."""

    def app(environ, start_response):
        environ['HTTP_X_USER_ID'] = 'u1'  # as keystonemiddleware sets it
        environ['HTTP_X_PROJECT_ID'] = 'p1'
        start_response('201 Created', [('Content-Type', 'text/plain')])
        return [b'hello', b' world']

    sink, ended, _ = serve(app, {'REQUEST_METHOD': 'POST',
                                 'QUERY_STRING': 'a=1',
                                 'CONTENT_LENGTH': '12',
                                 'PATH_INFO': '/v2/images/070833a5-4f01-'
                                              '4ae7-9892-73e6556940ea/file'})
    assert ended == [True]
    (event,) = sink.events
    assert set(schema.SERVER_FIELDS) <= set(event)
    assert event['v'] == 1 and event['kind'] == 'server'
    assert (event['global_request_id'], event['request_id'],
            event['parent_request_id']) == (GLOBAL, LOCAL, PARENT)
    assert event['root'] is False
    assert (event['service'], event['caller'], event['host']) == (
        'glance-api', 'nova-api', 'ctl-1')
    assert event['route'] == '/v2/images/{uuid}/file'
    assert (event['method'], event['status'], event['error']) == (
        'POST', 201, None)
    assert event['query'] == 'a=1'
    assert (event['request_bytes'], event['response_bytes']) == (12, 11)
    assert (event['user_id'], event['project_id']) == ('u1', 'p1')
    assert event['start'].endswith('Z') and len(event['start']) == 27
    assert event['duration_ms'] >= 0
    assert 'headers' not in event and 'body' not in event


def test_root_request_event_carries_local_id_as_global():
    """With no inbound global id the event's global id is the local id."""
    sink, _, _ = serve(lambda e, s: s('200 OK', []) or [b''],
                       held=context.RequestIds(LOCAL, None, 'keystone'))
    (event,) = sink.events
    assert event['global_request_id'] == LOCAL and event['root'] is True


def test_streamed_body_recorded_when_closed():
    """A streamed body is recorded at close(), with the bytes sent."""

    def app(environ, start_response):
        start_response('200 OK', [])

        def chunks():
            yield b'a' * 1000
            yield b'b' * 24
        return chunks()

    sink, ended, result = serve(app)
    assert sink.events == [] and ended == []
    assert sum(len(c) for c in result) == 1024
    assert sink.events == []
    result.close()
    result.close()
    assert [e['response_bytes'] for e in sink.events] == [1024]
    assert ended == [True]


def test_exception_in_app_is_a_500_event():
    """An exception in the app yields status 500 and the error class."""

    def app(environ, start_response):
        raise KeyError('boom')

    with pytest.raises(KeyError):
        serve(app)
    # serve() raised before returning: rebuild to inspect the sink
    sink = ListSink()
    rec = recorder.Recorder([sink], host='h')
    ended = []
    with pytest.raises(KeyError):
        rec.serve(app, {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/'},
                  lambda s, h, e=None: None,
                  context.RequestIds(LOCAL), lambda: ended.append(1))
    (event,) = sink.events
    assert (event['status'], event['error']) == (500, 'KeyError')
    assert ended == [1]


def test_exception_while_streaming_is_recorded():
    """An error raised mid-stream is recorded with the status sent."""

    def app(environ, start_response):
        start_response('200 OK', [])

        def chunks():
            yield b'x'
            raise OSError('disk')
        return chunks()

    sink, _, result = serve(app)
    with pytest.raises(OSError):
        list(result)
    result.close()
    (event,) = sink.events
    assert (event['status'], event['error'], event['response_bytes']) == (
        200, 'OSError', 1)


def test_capture_bodies_records_masked_headers_and_bodies():
    """capture_bodies keeps capped bodies and headers, secrets masked."""
    body = json.dumps({'auth': {'identity': {'methods': ['password'],
                      'password': {'user': {'name': 'admin',
                                            'password': 'Sup3rS3cr3tPw'}}}}})

    def app(environ, start_response):
        environ['wsgi.input'].read()
        start_response('201 Created', [('Content-Type', 'application/json'),
                                       ('X-Subject-Token', TOKEN)])
        return [b'{"token": {"methods": ["password"]}}']

    sink, _, _ = serve(app, {'REQUEST_METHOD': 'POST',
                             'PATH_INFO': '/v3/auth/tokens',
                             'CONTENT_TYPE': 'application/json',
                             'CONTENT_LENGTH': str(len(body)),
                             'HTTP_X_AUTH_TOKEN': TOKEN,
                             'wsgi.input': io.BytesIO(body.encode())},
                       capture_bodies=True, max_body_bytes=4096)
    (event,) = sink.events
    text = json.dumps(event)
    assert TOKEN not in text and 'Sup3rS3cr3tPw' not in text
    assert event['headers']['request']['X-Auth-Token'].startswith('{SHA256}')
    assert (event['headers']['request']['X-Auth-Token']
            == event['headers']['response']['X-Subject-Token'])
    assert 'admin' in json.dumps(event['body']['request'])
    assert 'methods' in json.dumps(event['body']['response'])


def test_filter_on_the_middleware_records_to_its_event_dir(tmp_path):
    """The filter writes one event per request to <service>.<host>.<pid>."""
    from global_reqid import middleware
    from global_reqid.events import reader

    def app(environ, start_response):
        start_response('200 OK', [])
        return [b'ok']

    filt = middleware.RequestId(app, {'service_name': 'image-api',
                                      'event_dir': str(tmp_path)})
    client = webtest.TestApp(filt)
    answered = [client.get('/v2/images', headers={
        'X-OpenStack-Request-ID': GLOBAL,
        ids.CALLER_HEADER: 'nova-api'}).headers['X-OpenStack-Request-ID']
        for _ in range(3)]
    assert filt.flush(10)
    files = list(tmp_path.glob('image-api.*.jsonl'))
    assert len(files) == 1
    events = list(reader.read_events(str(files[0])))
    assert [e['request_id'] for e in events] == answered
    assert {e['caller'] for e in events} == {'nova-api'}
    assert {e['global_request_id'] for e in events} == {GLOBAL}


@pytest.mark.parametrize('inbound', [GLOBAL, 'not-a-valid-id', None])
def test_captured_headers_are_the_ones_on_the_wire(tmp_path, inbound):
    """Captured request headers are what the caller sent (the global id
    as accepted, never an invalid one, nothing later middleware added);
    response headers include the X-OpenStack-Request-ID we answered."""
    from global_reqid import middleware
    from global_reqid.events import reader

    def app(environ, start_response):
        environ['HTTP_X_ROLES'] = 'admin'   # as keystonemiddleware adds
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'ok']

    filt = middleware.RequestId(app, {
        'service_name': 'image-api', 'event_dir': str(tmp_path),
        'capture_bodies': 'true'})
    headers = {'X-OpenStack-Request-ID': inbound} if inbound else {}
    resp = webtest.TestApp(filt).get('/v2/images', headers=headers)
    assert filt.flush(10)
    (path,) = tmp_path.glob('image-api.*.jsonl')
    (event,) = reader.read_events(str(path))
    sent = event['headers']['request']
    answered = dict(event['headers']['response'])
    assert 'X-Roles' not in sent
    assert 'not-a-valid-id' not in json.dumps(event)
    if inbound == GLOBAL:
        assert sent['X-Openstack-Request-Id'] == GLOBAL
    else:
        assert 'X-Openstack-Request-Id' not in sent
    assert answered['X-OpenStack-Request-ID'] == event['request_id'] == (
        resp.headers['X-OpenStack-Request-ID'])


def test_close_writes_everything_and_stops_the_writer(tmp_path):
    """close() writes the events recorded so far and stops the writer
    thread; a later request starts one again and is written too."""
    import threading

    from global_reqid import middleware
    from global_reqid.events import reader

    def app(environ, start_response):
        start_response('200 OK', [])
        return [b'ok']

    def writers():
        return [t for t in threading.enumerate()
                if t.name.startswith('global-reqid-events-')]

    before = set(writers())
    filt = middleware.RequestId(app, {'service_name': 'image-api',
                                      'event_dir': str(tmp_path)})
    client = webtest.TestApp(filt)
    for _ in range(5):
        client.get('/v2/images')
    assert set(writers()) - before
    assert filt.close(10) is True
    assert set(writers()) - before == set()
    (path,) = tmp_path.glob('image-api.*.jsonl')
    assert len(list(reader.read_events(str(path)))) == 5
    client.get('/v2/images')
    assert filt.close(10) is True
    assert len(list(reader.read_events(str(path)))) == 6
    assert middleware.RequestId(app, {'event_sinks': 'none'}).close()


def test_event_sinks_none_records_nothing(tmp_path):
    """event_sinks = none: no recorder, no file."""
    from global_reqid import middleware

    def app(environ, start_response):
        start_response('200 OK', [])
        return [b'']

    filt = middleware.RequestId(app, {'event_sinks': 'none',
                                 'event_dir': str(tmp_path)})
    webtest.TestApp(filt).get('/')
    assert filt.flush() and list(tmp_path.iterdir()) == []
    assert filt.event_stats == {}


def test_unknown_event_sink_is_a_load_error():
    """An unknown sink name fails at load time."""
    from global_reqid import middleware

    with pytest.raises(middleware.ConfigError, match='event_sinks'):
        middleware.RequestId(None, {'event_sinks': 'file,kafka'})


def test_unwritable_event_dir_never_fails_requests(tmp_path, caplog):
    """A blocked event_dir: requests succeed, drops counted, then resume."""
    import logging
    import time

    from global_reqid import middleware
    from global_reqid.events import reader

    blocked = tmp_path / 'events'
    blocked.write_text('a regular file where the directory should be')

    def app(environ, start_response):
        start_response('200 OK', [])
        return [b'ok']

    caplog.set_level(logging.INFO, logger='global_reqid.events')
    filt = middleware.RequestId(app, {'service_name': 'api',
                                      'event_dir': str(blocked)})
    client = webtest.TestApp(filt)
    for _ in range(5):
        assert client.get('/').status_int == 200
    filt.flush(10)
    stats = filt.event_stats['FileSink']
    assert stats['dropped_io'] == 5 and stats['written'] == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(blocked) in warnings[0].getMessage()

    blocked.unlink()
    deadline = time.monotonic() + 10
    answered = None
    while time.monotonic() < deadline:
        answered = client.get('/').headers['X-OpenStack-Request-ID']
        filt.flush(10)
        if filt.event_stats['FileSink']['written']:
            break
        time.sleep(0.1)
    written = [e['request_id'] for e in reader.iter_directory(blocked)]
    assert written and written[-1] == answered


def test_filter_rules_leave_matching_calls_out(tmp_path):
    """Calls the rules file names are served but not recorded."""
    from global_reqid import middleware
    from global_reqid.events import reader

    rules = tmp_path / 'rules.yaml'
    rules.write_text('filters:\n'
                     '  - from: nova-compute\n'
                     '    method: GET\n'
                     '    urls:\n'
                     '      - /placement/resource_providers/{uuid}/\n'
                     '  - urls: [/healthcheck]\n')

    def app(environ, start_response):
        start_response('200 OK', [])
        return [b'ok']

    filt = middleware.RequestId(app, {
        'service_name': 'placement-api', 'event_dir': str(tmp_path / 'ev'),
        'filter_rules': str(rules)})
    client = webtest.TestApp(filt)
    rp = '/placement/resource_providers/070833a5-4f01-4ae7-9892-73e6556940ea'
    client.get('/healthcheck')
    client.get(rp + '/inventories', headers={ids.CALLER_HEADER:
                                             'nova-compute'})
    client.get(rp + '/inventories', headers={ids.CALLER_HEADER: 'nova-api'})
    client.put(rp + '/inventories', headers={ids.CALLER_HEADER:
                                             'nova-compute'})
    filt.flush(10)
    recorded = [(e['caller'], e['method']) for e in
                reader.iter_directory(tmp_path / 'ev')]
    assert recorded == [('nova-api', 'GET'), ('nova-compute', 'PUT')]
