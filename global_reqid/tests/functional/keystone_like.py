"""A keystone v3 subset on 127.0.0.1: a functional-test fixture.

Not a keystone: just enough of its identity API, shaped like keystone's
own answers (``keystone/api/discovery.py``,
``keystone/common/render_token.py``), for real clients (keystoneauth1,
openstacksdk, the ``openstack`` CLI and keystonemiddleware's
``auth_token``) to discover it, get a password token, validate tokens and
list images:

- ``GET /`` (300, the version list) and ``GET /v3`` (the v3 version);
- ``POST /v3/auth/tokens``: the password method, project-scoped (with a
  catalog naming this server as ``identity`` and ``image``) or unscoped;
- ``GET`` and ``HEAD /v3/auth/tokens``: validation of ``X-Subject-Token``
  by a holder of a valid ``X-Auth-Token``, as keystonemiddleware does;
- ``GET /image/`` (glance's version list) and ``GET /image/v2/images``.

Every request is recorded in :attr:`KeystoneLike.received` and answered
with a fresh ``X-OpenStack-Request-ID``, as keystone's oslo filter does.
"""

import datetime
import json
import threading
import typing
import uuid

from global_reqid import ids
from global_reqid.tests.functional import apps

DOMAIN = {'id': 'default', 'name': 'Default'}
REGION = 'RegionOne'
TOKEN_TTL = datetime.timedelta(hours=1)
IDENTITY_MEDIA_TYPE = 'application/vnd.openstack.identity-v3+json'
_TIME_FORMAT = '%Y-%m-%dT%H:%M:%S.%fZ'
#: The one image ``GET /image/v2/images`` lists, shaped like glance's.
IMAGE = {
    'id': '070833a5-4f01-4ae7-9892-73e6556940ea', 'name': 'cirros',
    'status': 'active', 'visibility': 'public', 'protected': False,
    'os_hidden': False, 'container_format': 'bare', 'disk_format': 'raw',
    'size': 1048576, 'virtual_size': 1048576, 'min_disk': 0, 'min_ram': 0,
    'checksum': '805f54881733d7f0e5cde8a802062bd6', 'tags': [],
    'created_at': '2026-11-23T17:18:54Z',
    'updated_at': '2026-11-23T17:18:54Z',
    'self': '/v2/images/070833a5-4f01-4ae7-9892-73e6556940ea',
    'file': '/v2/images/070833a5-4f01-4ae7-9892-73e6556940ea/file',
    'schema': '/v2/schemas/image', 'stores': 'fs',
}


class User(typing.NamedTuple):
    """A user, the one project it may scope to and its roles there."""

    name: str
    password: str
    project: str
    roles: tuple = ('member', 'reader')


#: A cloud admin, scoped to the ``admin`` project.
ADMIN = User('admin', 'admin-secret', 'admin', ('admin', 'member', 'reader'))
#: A service user, as glance's for keystonemiddleware.
SERVICE = User('glance', 'glance-secret', 'service', ('service',))
#: The users of a fresh server.
DEFAULT_USERS = (ADMIN, SERVICE)


class Received(typing.NamedTuple):
    """One request the server received, and the id it answered."""

    method: str
    path: str
    query: str
    #: Request headers, names in lower case.
    headers: dict
    status: int
    answered_id: str

    def header(self, name):
        """The value of request header ``name`` (any case), or None."""
        return self.headers.get(name.lower())


def _id(name):
    # Stable ids per name, hex like keystone's.
    return uuid.uuid5(uuid.NAMESPACE_URL, 'keystone-like:' + name).hex


def _time(moment):
    return moment.strftime(_TIME_FORMAT)


def _error(status, title, message, headers=()):
    """An answer shaped like keystone's errors: (status, body, headers)."""
    code = int(status.split()[0])
    return status, {'error': {'code': code, 'message': message,
                              'title': title}}, list(headers)


_UNAUTHORIZED = ('401 Unauthorized', 'Unauthorized',
                 'The request you have made requires authentication.')


class KeystoneLike:
    """The WSGI app: keystone v3 identity and a tiny image API."""

    def __init__(self, users=DEFAULT_USERS):
        self.users = {user.name: user for user in users}
        self.url = None
        self.received = []
        self._tokens = {}
        self._lock = threading.Lock()

    # -- what the tests read

    def requests(self, method=None, path=None):
        """The received requests, optionally only one method and path."""
        with self._lock:
            got = list(self.received)
        return [r for r in got if (method is None or r.method == method)
                and (path is None or r.path == path)]

    def clear(self):
        """Forget the received requests."""
        with self._lock:
            del self.received[:]

    # -- WSGI

    def __call__(self, environ, start_response):
        method = environ['REQUEST_METHOD']
        path = environ.get('PATH_INFO') or '/'
        headers = {key[5:].replace('_', '-').lower(): value
                   for key, value in environ.items()
                   if key.startswith('HTTP_')}
        for key in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
            if environ.get(key):
                headers[key.replace('_', '-').lower()] = environ[key]
        try:
            status, body, extra = self._route(method, path, environ,
                                              headers)
        except Exception as exc:  # noqa: BLE001 - a fixture answers 500
            status, body, extra = _error(
                '500 Internal Server Error', 'Internal Server Error',
                '%s: %s' % (type(exc).__name__, exc))
        answered = ids.new_request_id()
        with self._lock:
            self.received.append(Received(
                method, path, environ.get('QUERY_STRING', ''), headers,
                int(status.split()[0]), answered))
        data = json.dumps(body).encode() if body is not None else b''
        response_headers = [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(data))),
                            (ids.REQUEST_ID_HEADER, answered)] + extra
        start_response(status, response_headers)
        return [] if method == 'HEAD' else [data]

    def _route(self, method, path, environ, headers):
        path = path.rstrip('/') or '/'
        if method not in ('GET', 'HEAD', 'POST'):
            return _error('405 Method Not Allowed', 'Method Not Allowed',
                          'The method is not allowed.')
        if path == '/' and method != 'POST':
            return ('300 Multiple Choices',
                    {'versions': {'values': [self._v3_version()]}},
                    [('Location', self.url + '/v3/')])
        if path == '/v3' and method != 'POST':
            return '200 OK', {'version': self._v3_version()}, []
        if path == '/v3/auth/tokens' and method == 'POST':
            return self._issue(environ)
        if path == '/v3/auth/tokens':
            return self._validate(headers, environ.get('QUERY_STRING', ''))
        if path in ('/image', '/image/versions') and method != 'POST':
            return '300 Multiple Choices', self._image_versions(), []
        if path == '/image/v2/images' and method != 'POST':
            if headers.get('x-auth-token') not in self._tokens:
                return self._unauthorized()
            return ('200 OK', {'images': [dict(IMAGE)],
                               'first': '/v2/images',
                               'schema': '/v2/schemas/images'}, [])
        return _error('404 Not Found', 'Not Found',
                      'The resource could not be found.')

    # -- discovery

    def _v3_version(self):
        return {
            'id': 'v3.14',
            'status': 'stable',
            'updated': '2020-04-07T00:00:00Z',
            'links': [{'rel': 'self', 'href': self.url + '/v3/'}],
            'media-types': [{'base': 'application/json',
                             'type': IDENTITY_MEDIA_TYPE}],
        }

    def _image_versions(self):
        href = self.url + '/image/v2/'
        return {'versions': [
            {'id': 'v2.%d' % minor,
             'status': 'CURRENT' if minor == 17 else 'SUPPORTED',
             'links': [{'rel': 'self', 'href': href}]}
            for minor in range(17, -1, -1)]}

    # -- tokens

    def _issue(self, environ):
        try:
            length = int(environ.get('CONTENT_LENGTH') or 0)
            auth = json.loads(environ['wsgi.input'].read(length))['auth']
            identity = auth['identity']
        except (ValueError, KeyError, TypeError):
            return _error('400 Bad Request', 'Bad Request',
                          'Expecting to find auth in request body.')
        user = None
        if identity.get('methods') == ['password']:
            user = self._password_user(identity.get('password') or {})
        if user is None:
            return self._unauthorized()
        scope = auth.get('scope')
        if scope is not None and not self._project_matches(
                user, scope.get('project') or {}):
            return self._unauthorized()
        token = uuid.uuid4().hex
        body = self._token_body(user, scoped=scope is not None)
        with self._lock:
            self._tokens[token] = body
        return '201 Created', body, [('X-Subject-Token', token),
                                     ('Vary', 'X-Auth-Token')]

    def _unauthorized(self):
        return _error(*_UNAUTHORIZED, headers=[
            ('WWW-Authenticate', 'Keystone uri="%s"' % self.url)])

    def _password_user(self, password):
        given = password.get('user') or {}
        user = self.users.get(given.get('name'))
        if user is None:
            by_id = {_id('user:' + u.name): u for u in self.users.values()}
            user = by_id.get(given.get('id'))
        elif not _is_default_domain(given.get('domain') or {}):
            return None
        if user is None or given.get('password') != user.password:
            return None
        return user

    def _project_matches(self, user, project):
        if project.get('id') is not None:
            return project['id'] == _id('project:' + user.project)
        return (project.get('name') == user.project
                and _is_default_domain(project.get('domain') or {}))

    def _token_body(self, user, scoped):
        now = datetime.datetime.now(datetime.timezone.utc)
        token = {
            'methods': ['password'],
            'user': {'domain': dict(DOMAIN), 'id': _id('user:' + user.name),
                     'name': user.name, 'password_expires_at': None},
            'audit_ids': [uuid.uuid4().hex[:22]],
            'expires_at': _time(now + TOKEN_TTL),
            'issued_at': _time(now),
        }
        if scoped:
            token['project'] = {'domain': dict(DOMAIN),
                                'id': _id('project:' + user.project),
                                'name': user.project}
            token['is_domain'] = False
            token['roles'] = [{'id': _id('role:' + role), 'name': role}
                              for role in user.roles]
            token['catalog'] = self._catalog()
        return {'token': token}

    def _catalog(self):
        def service(kind, name, url):
            return {
                'endpoints': [{'id': _id('endpoint:%s:%s' % (name, iface)),
                               'interface': iface, 'region_id': REGION,
                               'url': url, 'region': REGION}
                              for iface in ('public', 'internal', 'admin')],
                'id': _id('service:' + name), 'type': kind, 'name': name}
        return [service('identity', 'keystone', self.url),
                service('image', 'glance', self.url + '/image')]

    def _validate(self, headers, query):
        with self._lock:
            caller = self._tokens.get(headers.get('x-auth-token'))
            body = self._tokens.get(headers.get('x-subject-token'))
        if caller is None:
            return self._unauthorized()
        if body is None:
            return _error('404 Not Found', 'Not Found',
                          'Could not find token: %s.' % headers.get(
                              'x-subject-token'))
        if 'nocatalog' in query.split('&'):
            body = {'token': {k: v for k, v in body['token'].items()
                              if k != 'catalog'}}
        return '200 OK', body, [('X-Subject-Token',
                                 headers['x-subject-token'])]


def _is_default_domain(domain):
    return (domain.get('id') == DOMAIN['id']
            or domain.get('name') == DOMAIN['name'])


class serving:
    """Serve a fresh :class:`KeystoneLike` on 127.0.0.1; a context manager.

    ``with keystone_like.serving() as keystone:`` gives the app, whose
    ``url`` is ``http://127.0.0.1:<port>`` (the identity endpoint; the
    auth URL is ``url + '/v3'``).
    """

    def __init__(self, users=DEFAULT_USERS, threads=4):
        self.app = KeystoneLike(users)
        self._served = apps.serving(self.app, threads=threads)

    def __enter__(self):
        self.app.url = self._served.__enter__().url
        return self.app

    def __exit__(self, *exc):
        return self._served.__exit__(*exc)
