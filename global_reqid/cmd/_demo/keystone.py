"""The identity stand-in of the demo (not keystone).

``POST /v3/auth/tokens`` issues a fernet-shaped token for the one user's
password, scoped to its one project, with a catalog; ``GET
/v3/auth/tokens`` validates ``X-Subject-Token`` for a holder of a valid
``X-Auth-Token``. Tokens live in memory.
"""

import base64
import datetime
import hashlib
import hmac
import json
import logging
import secrets
import threading

from global_reqid.cmd._demo import common

DOMAIN = {'id': 'default', 'name': 'Default'}
TOKEN_TTL = datetime.timedelta(hours=1)


def password_hash(password):
    """What the identity stand-in keeps of a password (never the password)."""
    return hashlib.sha256(password.encode('utf-8')).hexdigest()


class Keystone:
    """The identity stand-in: one user, one project, tokens in memory."""

    def __init__(self, user, password_sha256, project, catalog):
        self.log = logging.getLogger('keystone.token.provider')
        self.user = user
        self.password_sha256 = password_sha256
        self.project = project
        self.catalog = catalog
        self._tokens = {}
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        method = environ['REQUEST_METHOD']
        if environ.get('PATH_INFO', '').rstrip('/') != '/v3/auth/tokens':
            return common.error(start_response, '404 Not Found',
                                'The resource could not be found.')
        if method == 'POST':
            return self._issue(environ, start_response)
        if method == 'GET':
            return self._validate(environ, start_response)
        return common.error(start_response, '405 Method Not Allowed',
                            'The method is not allowed.')

    def _issue(self, environ, start_response):
        try:
            auth = json.loads(common.read(environ))['auth']
            given = auth['identity']['password']['user']
            project = auth['scope']['project']['name']
        except (ValueError, KeyError, TypeError):
            return common.error(start_response, '400 Bad Request',
                                'Expecting to find auth in request body.')
        password = str(given.get('password', ''))
        if (given.get('name') != self.user or project != self.project
                or not hmac.compare_digest(password_hash(password),
                                           self.password_sha256)):
            self.log.warning('Authorization failed for user %s',
                             given.get('name'))
            return common.error(start_response, '401 Unauthorized',
                                'The request you have made requires '
                                'authentication.')
        # Shaped like a fernet token: what the redaction must recognise.
        token = 'gAAAAAB' + base64.urlsafe_b64encode(
            secrets.token_bytes(120)).decode('ascii').rstrip('=')
        now = common.now()
        body = {'token': {
            'methods': ['password'],
            'user': {'id': common.stable_id('user:' + self.user),
                     'name': self.user, 'domain': dict(DOMAIN)},
            'project': {'id': common.stable_id('project:' + self.project),
                        'name': self.project, 'domain': dict(DOMAIN)},
            'roles': [{'id': common.stable_id('role:member'),
                       'name': 'member'}],
            'audit_ids': [secrets.token_urlsafe(16)[:22]],
            'issued_at': now.strftime(common.TIME_FORMAT),
            'expires_at': (now + TOKEN_TTL).strftime(common.TIME_FORMAT),
            'catalog': self._catalog(),
        }}
        with self._lock:
            self._tokens[token] = body
        self.log.info('Issued a token for user %s on project %s',
                      self.user, self.project)
        return common.answer(start_response, '201 Created', body,
                             [('X-Subject-Token', token)])

    def _catalog(self):
        project_id = common.stable_id('project:' + self.project)
        stable_id = common.stable_id
        entries = []
        for kind, name, url in self.catalog:
            if kind == 'object-store':
                url = '%s/v1/AUTH_%s' % (url, project_id)
            entries.append({
                'type': kind, 'name': name, 'id': stable_id('service:' + name),
                'endpoints': [{'id': stable_id('endpoint:%s:%s' % (name, i)),
                               'interface': i, 'region': 'RegionOne',
                               'region_id': 'RegionOne', 'url': url}
                              for i in ('public', 'internal')]})
        return entries

    def _validate(self, environ, start_response):
        with self._lock:
            caller = self._tokens.get(environ.get('HTTP_X_AUTH_TOKEN'))
            body = self._tokens.get(environ.get('HTTP_X_SUBJECT_TOKEN'))
        if caller is None:
            return common.error(start_response, '401 Unauthorized',
                                'The request you have made requires '
                                'authentication.')
        if body is None:
            return common.error(start_response, '404 Not Found',
                                'Could not find token.')
        self.log.info('Validated a token of user %s',
                      body['token']['user']['name'])
        return common.answer(start_response, '200 OK', body, [
            ('X-Subject-Token', environ['HTTP_X_SUBJECT_TOKEN'])])


def keystone_factory(global_conf, user, password_sha256, project,
                     image_url, object_store_url):
    """paste.app_factory of the identity stand-in."""
    return Keystone(user, password_sha256, project,
                    [('image', 'glance', image_url),
                     ('object-store', 'swift', object_store_url)])
