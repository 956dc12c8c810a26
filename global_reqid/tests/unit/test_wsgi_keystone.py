"""keystone's entry point: oslo's RequestId out of the chain, ours around it."""

import subprocess
import sys
import types

from oslo_middleware import cors
from oslo_middleware import request_id as oslo_request_id
from oslo_middleware import sizelimit
import pytest
import webtest

from global_reqid import ids
from global_reqid import middleware
from global_reqid.wsgi import keystone as keystone_wsgi

GLOBAL = 'req-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'


class Wrapper:
    """A middleware that reaches its app through ``app`` (werkzeug's way)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def echo_app(environ, start_response):
    """Answers the ids keystone's code would read from the environ."""
    body = '%s %s' % (environ.get(ids.ENV_REQUEST_ID),
                      environ.get(ids.ENV_GLOBAL_REQUEST_ID))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body.encode()]


def keystone_like_chain(app=echo_app, request_ids=1):
    """keystone's order: ProxyFix, cors, sizelimit, request_id, its own."""
    inner = Wrapper(app)
    for _ in range(request_ids):
        inner = oslo_request_id.RequestId(inner)
    inner = sizelimit.RequestBodySizeLimiter(inner)
    inner = cors.CORS(inner, {})
    return types.SimpleNamespace(wsgi_app=Wrapper(inner))


def make_filter(inner):
    return middleware.RequestId(inner, {'service_name': 'keystone',
                                        'event_sinks': 'none'})


def chain_types(node):
    found = []
    for _ in range(20):
        found.append(type(node).__name__)
        _, node = keystone_wsgi._inner(node)
        if node is None:
            return found
    raise AssertionError('chain does not end')


def test_oslo_request_id_is_replaced_by_ours_around_the_chain():
    """oslo's RequestId leaves the chain; ours wraps it, keeping the rest."""
    app = keystone_like_chain()
    assert keystone_wsgi.replace_request_id(app, make_filter) == 1
    assert chain_types(app.wsgi_app) == [
        'RequestId', 'Wrapper', 'CORS', 'RequestBodySizeLimiter', 'Wrapper',
        'function']
    assert isinstance(app.wsgi_app, middleware.RequestId)


def test_one_local_id_per_request_after_replacing():
    """The app reads, and the client is answered, the filter's one local id."""
    app = keystone_like_chain()
    keystone_wsgi.replace_request_id(app, make_filter)
    resp = webtest.TestApp(app.wsgi_app).get(
        '/v3', headers={ids.REQUEST_ID_HEADER: GLOBAL})
    local, global_id = resp.text.split()
    assert global_id == GLOBAL
    assert ids.is_valid_request_id(local) and local != GLOBAL
    assert resp.headers.getall(ids.REQUEST_ID_HEADER) == [local]


def test_stacked_filters_mint_two_local_ids():
    """Control: left in, oslo's RequestId takes our local id as global."""
    app = keystone_like_chain()
    app.wsgi_app = make_filter(app.wsgi_app)
    resp = webtest.TestApp(app.wsgi_app).get(
        '/v3', headers={ids.REQUEST_ID_HEADER: GLOBAL})
    local, global_id = resp.text.split()
    # oslo took our local id, sent downstream, for the global one.
    assert global_id != GLOBAL
    assert resp.headers[ids.REQUEST_ID_HEADER] == local


def test_every_oslo_request_id_is_removed():
    """Two oslo RequestId filters in the chain: both leave it."""
    app = keystone_like_chain(request_ids=2)
    assert keystone_wsgi.replace_request_id(app, make_filter) == 2
    assert 'RequestId' not in chain_types(app.wsgi_app)[1:]


def test_chain_without_oslo_request_id_is_wrapped_all_the_same():
    """No oslo RequestId to remove: ours still wraps the whole chain."""
    app = types.SimpleNamespace(wsgi_app=Wrapper(echo_app))
    assert keystone_wsgi.replace_request_id(app, make_filter) == 0
    assert chain_types(app.wsgi_app) == ['RequestId', 'Wrapper', 'function']


def test_other_attributes_are_missing():
    """Only ``application`` is built on demand; other names raise."""
    with pytest.raises(AttributeError):
        keystone_wsgi.no_such_name  # noqa: B018


def test_import_builds_nothing():
    """Importing the module imports neither keystone nor the application."""
    probe = ('import sys\n'
             'import global_reqid.wsgi.keystone as k\n'
             'print(sorted(m for m in sys.modules\n'
             '             if m.split(".")[0] in ("keystone", "flask")),\n'
             '      k._APPLICATION)\n')
    out = subprocess.run([sys.executable, '-c', probe], capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout == '[] []\n'
