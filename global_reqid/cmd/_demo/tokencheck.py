"""The demo's token check: keystonemiddleware's ``auth_token``, in small.

Validates ``X-Auth-Token`` with keystone over a keystoneauth1 session
(without a cache: every request is validated) and sets the identity
headers the apps read.
"""

import logging

from keystoneauth1 import session as ks_session

from global_reqid.cmd._demo import common

#: Seconds a validation may take.
TIMEOUT = 30
#: Headers the token check sets; an inbound value is never trusted.
IDENTITY_HEADERS = ('HTTP_X_IDENTITY_STATUS', 'HTTP_X_USER_ID',
                    'HTTP_X_USER_NAME', 'HTTP_X_PROJECT_ID',
                    'HTTP_X_PROJECT_NAME', 'HTTP_X_ROLES')


class TokenCheck:
    """Validates ``X-Auth-Token`` with keystone before the app runs."""

    def __init__(self, app, identity_url, log_name):
        self.app = app
        self.url = identity_url.rstrip('/') + '/v3/auth/tokens'
        self.log = logging.getLogger(log_name)
        self.session = ks_session.Session(timeout=TIMEOUT)

    def __call__(self, environ, start_response):
        for key in IDENTITY_HEADERS:
            environ.pop(key, None)
        token = environ.get('HTTP_X_AUTH_TOKEN')
        if not token:
            return common.error(start_response, '401 Unauthorized',
                                'Authentication required')
        # NOTE: a user may validate its own token (keystone's policy
        # "token_subject"), so no service token is needed here.
        resp = self.session.get(
            self.url, authenticated=False, raise_exc=False,
            headers={'X-Auth-Token': token, 'X-Subject-Token': token})
        if resp.status_code != 200:
            self.log.warning('Rejected a token: keystone answered %d',
                             resp.status_code)
            return common.error(start_response, '401 Unauthorized',
                                'Authentication required')
        body = resp.json()['token']
        environ.update({
            'HTTP_X_IDENTITY_STATUS': 'Confirmed',
            'HTTP_X_USER_ID': body['user']['id'],
            'HTTP_X_USER_NAME': body['user']['name'],
            'HTTP_X_PROJECT_ID': body['project']['id'],
            'HTTP_X_PROJECT_NAME': body['project']['name'],
            'HTTP_X_ROLES': ','.join(r['name'] for r in body['roles']),
        })
        self.log.info('Token of user %s validated by keystone',
                      body['user']['name'])
        return self.app(environ, start_response)


def token_check_factory(global_conf, identity_url, log_name):
    """paste.filter_factory of :class:`TokenCheck`."""
    return lambda app: TokenCheck(app, identity_url, log_name)
