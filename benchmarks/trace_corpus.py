"""Generate a realistic oslo.log corpus with one action spread over it.

Six service log files (``keystone.log``, ``glance-api.log``,
``nova-api.log``, ``nova-conductor.log``, ``neutron-server.log``,
``cinder-api.log``), of oslo.log's default text format with debug on,
modelled on the real keystone and glance logs in ``shared/samples``:
context columns ``[req-G req-L user project - - default default]``,
``[None req-L - - - - - -]`` and ``[-]``, DEBUG lines ending with
``funcName path:lineno``, access lines (nova's requestlog, eventlet's and
oslo.service's wsgi formats), keystoneauth's ``REQ:``/``RESP:``/``call
to`` lines, ERROR tracebacks, service restarts that dump the config.
Hundreds of thousands of distinct ids, timestamps increasing over a day.

One action (a ``server create`` whose client sent the printed global id)
is spread over all six files: ~20 HTTP hops, ~200 lines carrying the id.
Each file was rotated at a different time, so the action sits near the
start of one file, the middle of another, the end of a third. Every
service runs the ``global_reqid`` filter: the id reaches keystone's token
validations too. Secrets appear only as keystoneauth's ``{SHA256}``
hashes.

The same seed gives the same bytes. ``DIR/ACTION_ID`` holds the id;
``DIR/corpus.json`` the sizes and the lines per file that carry it (not
the id itself, so a scan of DIR finds it in the logs and ACTION_ID only).

Run: ``python benchmarks/trace_corpus.py --out DIR [--size 1G]
[--seed N]``, or ``--check DIR`` to validate a corpus.
"""

import argparse
import base64
import calendar
import concurrent.futures
import email.utils
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import zlib

#: Files and their share of the corpus: the API services that see every
#: request log the most, as in a real cloud.
SHARES = (
    ('nova-api', 0.27),
    ('neutron-server', 0.23),
    ('keystone', 0.17),
    ('nova-conductor', 0.12),
    ('glance-api', 0.11),
    ('cinder-api', 0.10),
)
SERVICES = tuple(name for name, _ in SHARES)
ACTION_ID_FILE = 'ACTION_ID'
MANIFEST_FILE = 'corpus.json'
DEFAULT_SIZE = 1 << 30
DAY = 86400.0
#: The day the action happens (UTC, as oslo.log writes local time).
ACTION_DAY = calendar.timegm((2026, 11, 24, 0, 0, 0))
#: Where the action falls in each file (fraction of the file's time
#: span), shuffled per seed: start, middle and end of files.
PLACES = (0.015, 0.21, 0.47, 0.52, 0.78, 0.965)
#: Lines buffered before one write.
BLOCK_LINES = 16384

SITE = '/opt/stack/venv/lib/python3.11/site-packages'
CONTROLLER = '10.0.0.11'
URLS = {
    'keystone': 'http://%s/identity' % CONTROLLER,
    'nova-api': 'http://%s:8774/v2.1' % CONTROLLER,
    'glance-api': 'http://%s:9292' % CONTROLLER,
    'neutron-server': 'http://%s:9696' % CONTROLLER,
    'cinder-api': 'http://%s:8776' % CONTROLLER,
}
SERVICE_TYPES = {
    'keystone': 'identity', 'nova-api': 'compute', 'glance-api': 'image',
    'neutron-server': 'network', 'cinder-api': 'block-storage',
}
USER_AGENTS = {
    'nova-api': 'nova/31.0.0 keystoneauth1/5.9.1 python-requests/2.32.3 '
                'CPython/3.11.2',
    'nova-conductor': 'nova/31.0.0 keystoneauth1/5.9.1 '
                      'python-requests/2.32.3 CPython/3.11.2',
    'neutron-server': 'neutron/26.0.0 keystoneauth1/5.9.1 '
                      'python-requests/2.32.3 CPython/3.11.2',
    'glance-api': 'glance/30.0.0 keystoneauth1/5.9.1 '
                  'python-requests/2.32.3 CPython/3.11.2',
    'cinder-api': 'cinder/26.0.0 keystoneauth1/5.9.1 '
                  'python-requests/2.32.3 CPython/3.11.2',
}
KSM_AGENT = ' keystonemiddleware.auth_token/10.9.0'

# Line sources: ``funcName path:lineno`` of oslo's debug suffix.
REQLOG = ' log_request_info %s/keystone/server/flask/request_processing/' \
    'req_logging.py:' % SITE
AUTHCTX = '%s/keystonemiddleware/auth_token/__init__.py:' % SITE
FERNET = (
    'Loaded 2 Fernet keys from /etc/keystone/fernet-keys/, but '
    '`[fernet_tokens] max_active_keys = 3`; perhaps there have not been '
    'enough key rotations to reach `max_active_keys` yet? load_keys '
    '%s/keystone/common/fernet_utils.py:297' % SITE)
ENFORCER = ' enforce_call %s/keystone/common/rbac_enforcer/enforcer.py:' \
    % SITE
SESSION = '%s/keystoneauth1/session.py:' % SITE
LOCKUTILS = ' inner %s/oslo_concurrency/lockutils.py:' % SITE
VERSIONS = ' process_request %s/glance/api/middleware/' \
    'version_negotiation.py:' % SITE
NOVA_WSGI = ' _process_stack %s/nova/api/openstack/wsgi.py:' % SITE
CINDER_WSGI = '%s/cinder/api/openstack/wsgi.py:' % SITE

KS_MW = 'keystone.server.flask.request_processing.middleware.auth_context'
KS_REQ = 'keystone.server.flask.request_processing.req_logging'
KS_RBAC = 'keystone.common.rbac_enforcer.enforcer'
KA = 'keystoneauth.session'
LOCK = 'oslo_concurrency.lockutils'

#: Line modes: with the request's context, oslo's ``[-]`` default
#: format, or the exception prefix (traceback lines carry no ids).
CTX, DASH, EXC = 0, 1, 2

ID_RE = r'req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
_HEAD = (r'(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (?P<pid>\d+) '
         r'(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) '
         r'(?P<name>[A-Za-z_][\w.]*) ')
#: oslo.log's defaults: logging_context_format_string (6-field
#: user_identity), logging_default_format_string and
#: logging_exception_prefix, each anchored.
LINE_PATTERNS = (
    re.compile(_HEAD + r'\[(?P<global>None|%s) (?P<local>%s) '
               r'(?P<identity>\S+ \S+ \S+ \S+ \S+ \S+)\] (?P<message>.*)'
               % (ID_RE, ID_RE)),
    re.compile(_HEAD + r'\[-\] (?P<message>.*)'),
    re.compile(r'(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) '
               r'(?P<pid>\d+) ERROR (?P<name>[A-Za-z_][\w.]*) '
               r'(?P<message>.*)'),
)


def parse_size(text):
    """Bytes for ``1G``, ``512M``, ``64K`` or a plain number (binary)."""
    match = re.fullmatch(r'\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*',
                         text, re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError('not a size: %r' % text)
    scale = 1 << (10 * ' KMGT'.index(match.group(2).upper() or ' '))
    size = int(float(match.group(1)) * scale)
    if size < 1 << 20:
        raise argparse.ArgumentTypeError('at least 1M')
    return size


class Ids:
    """Deterministic ids and names drawn from one seeded generator."""

    def __init__(self, rng):
        self.rng = rng
        bits = rng.getrandbits
        self.users = ['%032x' % bits(128) for _ in range(300)]
        self.projects = ['%032x' % bits(128) for _ in range(120)]
        self.service_users = {
            name: '%032x' % bits(128) for name in
            ('nova', 'neutron', 'glance', 'cinder', 'placement')}
        self.service_project = '%032x' % bits(128)
        self.flavors = ['%d' % n for n in (1, 2, 3, 4, 42, 84)]

    def uuid(self):
        """A version 4 uuid, as text."""
        h = '%032x' % self.rng.getrandbits(128)
        return '%s-%s-4%s-%s%s-%s' % (h[:8], h[8:12], h[13:16],
                                      VARIANT[h[16]], h[17:20], h[20:])

    def request_id(self):
        return 'req-' + self.uuid()

    def hex(self, n=32):
        return '%0*x' % (n, self.rng.getrandbits(4 * n))

    def token_hash(self):
        return '{SHA256}' + self.hex(64)

    def audit_id(self):
        """A token audit id: 16 random bytes, urlsafe base64, unpadded."""
        raw = self.rng.getrandbits(128).to_bytes(16, 'big')
        return base64.urlsafe_b64encode(raw)[:22].decode('ascii')


VARIANT = {c: '89ab'[int(c, 16) & 3] for c in '0123456789abcdef'}


def user_identity(user, project):
    """oslo.context's six-field user_identity."""
    if user is None:
        return '- - - - - -'
    return '%s %s - - default default' % (user, project)


def context(global_id, local_id, user=None, project=None):
    """The bracketed context column of logging_context_format_string."""
    return '[%s %s %s]' % (global_id or 'None', local_id,
                           user_identity(user, project))


class Stamp:
    """Formats epoch seconds as oslo.log does, caching the second."""

    def __init__(self):
        self._second = None
        self._text = ''

    def __call__(self, t):
        second = int(t)
        if second != self._second:
            self._second = second
            self._text = time.strftime('%Y-%m-%d %H:%M:%S',
                                       time.gmtime(second))
        return '%s.%03d' % (self._text, int((t - second) * 1000))


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def format_line(stamp, pid, level, logger, ctx, mode, message):
    """One oslo.log line (no newline) in the mode's format."""
    if mode == CTX:
        return '%s %d %s %s %s %s' % (stamp, pid, level, logger, ctx,
                                      message)
    if mode == DASH:
        return '%s %d %s %s [-] %s' % (stamp, pid, level, logger, message)
    return '%s %d ERROR %s %s' % (stamp, pid, logger, message)


# -- keystoneauth, the caller's side of a call --------------------------

def call_lines(ids, caller, callee, method, url, status, callee_id,
               sent_id, length, body=None, validation=False, t=ACTION_DAY):
    """keystoneauth's REQ:, RESP: (and RESP BODY) and ``call to`` lines.

    Headers sorted and tokens hashed as keystoneauth logs them; a URL
    with a query quoted, as its curl line has it.
    """
    agent = USER_AGENTS.get(caller, USER_AGENTS['nova-api'])
    if validation:
        agent += KSM_AGENT
    headers = '-H "Accept: application/json"'
    if body is not None:
        headers += ' -H "Content-Type: application/json"'
    headers += ' -H "User-Agent: %s" -H "X-Auth-Token: %s"' % (
        agent, ids.token_hash())
    if sent_id:
        headers += ' -H "X-OpenStack-Request-ID: %s"' % sent_id
    if validation:
        headers += ' -H "X-Subject-Token: %s"' % ids.token_hash()
    data = '' if body is None else " -d '%s'" % body
    shown = '"%s"' % url if '?' in url else url
    id_header = ('x-openstack-request-id' if callee in
                 ('keystone', 'nova-api') else 'X-Openstack-Request-Id')
    lines = [
        ('DEBUG', KA, 'REQ: curl -g -i -X %s %s %s%s _http_log_request %s578'
         % (method, shown, headers, data, SESSION)),
        ('DEBUG', KA, 'RESP: [%d] Connection: keep-alive Content-Length: %d '
         'Content-Type: application/json Date: %s %s: %s '
         '_http_log_response %s610'
         % (status, length, http_date(t), id_header, callee_id, SESSION)),
    ]
    if not validation and status < 300 and length < 4000:
        lines.append(('DEBUG', KA, 'RESP BODY: %s _http_log_response %s644'
                      % (_resp_body(ids, callee, length), SESSION)))
    lines.append(('DEBUG', KA, '%s call to %s for %s used request id %s '
                  'request %s1068' % (method, SERVICE_TYPES[callee], url,
                                      callee_id, SESSION)))
    return lines


def validation_lines(ids, caller, t):
    """keystonemiddleware validating a token its cache did not hold."""
    return [('DEBUG', 'keystonemiddleware.auth_token', 'Authenticating user '
             'token process_request %s406' % AUTHCTX)] + call_lines(
        ids, caller, 'keystone', 'GET', URLS['keystone'] + '/v3/auth/tokens',
        200, ids.request_id(), None, ids.rng.randrange(4000, 9000),
        validation=True, t=t)


def _resp_body(ids, callee, length):
    if callee == 'neutron-server':
        return ('{"ports": [{"id": "%s", "name": "", "network_id": "%s", '
                '"mac_address": "fa:16:3e:%02x:%02x:%02x", '
                '"admin_state_up": true, "status": "ACTIVE", '
                '"device_owner": "compute:nova", "fixed_ips": '
                '[{"subnet_id": "%s", "ip_address": "10.0.%d.%d"}], '
                '"binding:vnic_type": "normal", "tags": []}]}'
                % (ids.uuid(), ids.uuid(), ids.rng.randrange(256),
                   ids.rng.randrange(256), ids.rng.randrange(256),
                   ids.uuid(), ids.rng.randrange(4), ids.rng.randrange(254)))
    if callee == 'glance-api':
        return ('{"name": "cirros-0.6.3-x86_64-disk", "disk_format": '
                '"qcow2", "container_format": "bare", "visibility": '
                '"public", "size": 21692416, "virtual_size": 117440512, '
                '"status": "active", "checksum": "%s", "protected": false, '
                '"min_ram": 0, "min_disk": 0, "owner": "%s", "id": "%s", '
                '"os_hash_algo": "sha512", "file": "/v2/images/%s/file", '
                '"schema": "/v2/schemas/image"}'
                % (ids.hex(), ids.hex(), ids.uuid(), ids.uuid()))
    if callee == 'cinder-api':
        return ('{"volume": {"id": "%s", "status": "available", "size": '
                '%d, "availability_zone": "nova", "bootable": "true", '
                '"multiattach": false, "attachments": [], "volume_type": '
                '"lvmdriver-1", "encrypted": false}}'
                % (ids.uuid(), ids.rng.choice((1, 10, 20, 40))))
    return '{"server": {"id": "%s", "status": "ACTIVE"}}' % ids.uuid()


# -- the server side: what each service logs for one request -----------

def keystone_validate(ids, method='GET', path='/v3/auth/tokens'):
    user = ids.rng.choice(ids.users)
    project = ids.rng.choice(ids.projects)
    lines = keystone_request(method, path)
    lines += [
        ('DEBUG', KS_MW, 'Authenticating user token process_request %s406'
         % AUTHCTX),
        ('DEBUG', 'keystone.common.fernet_utils', FERNET),
        ('DEBUG', KS_MW, 'Validating token access rules against request '
         'validate_allowed_request %s544' % AUTHCTX),
        ('DEBUG', KS_MW, rbac_context(ids, user, project)),
        ('DEBUG', KS_RBAC, 'RBAC: Authorizing `identity:validate_token()`'
         + ENFORCER + '501'),
        ('DEBUG', KS_RBAC, 'RBAC: Authorization granted' + ENFORCER + '512'),
        ('DEBUG', 'keystone.common.fernet_utils', FERNET),
    ]
    return lines


def keystone_request(method, path):
    return [
        ('DEBUG', KS_REQ, 'REQUEST_METHOD: `%s`%s26' % (method, REQLOG)),
        ('DEBUG', KS_REQ, 'SCRIPT_NAME: `/identity`%s27' % REQLOG),
        ('DEBUG', KS_REQ, 'PATH_INFO: `%s`%s28' % (path, REQLOG)),
    ]


def rbac_context(ids, user, project):
    return (
        "RBAC: auth_context: {'token': <TokenModel (audit_id=%s, "
        "audit_chain_id=['%s']) at 0x7f%010x>, 'domain_id': None, "
        "'trust_id': None, 'trustor_id': None, 'trustee_id': None, "
        "'domain_name': None, 'group_ids': [], 'user_id': '%s', "
        "'user_domain_id': 'default', 'system_scope': None, "
        "'project_id': '%s', 'project_domain_id': 'default', 'roles': "
        "['member', 'reader'], 'is_admin_project': False, "
        "'service_user_id': None, 'service_user_domain_id': None, "
        "'service_project_id': None, 'service_project_domain_id': None, "
        "'service_roles': []} fill_context %s/keystone/server/flask/"
        "request_processing/middleware/auth_context.py:519"
        % (ids.audit_id(), ids.audit_id(), ids.rng.getrandbits(40), user,
           project, SITE))


def keystone_issue(ids, user):
    lines = keystone_request('POST', '/v3/auth/tokens')
    lines += [
        ('DEBUG', 'keystone.auth.core', 'MFA Rules not processed for user '
         '`%s`. Rule list: `[]` (Enabled: `True`). '
         'check_auth_methods_against_rules %s/keystone/auth/core.py:476'
         % (user, SITE)),
        ('DEBUG', 'keystone.common.fernet_utils', FERNET),
    ]
    return lines


def nova_access(method, path, status, length, seconds, version='2.96'):
    return ('INFO', 'nova.api.openstack.requestlog',
            '%s "%s %s" status: %d len: %d microversion: %s time: %.6f'
            % (CONTROLLER, method, path, status, length, version, seconds))


def nova_calling(controller, method):
    return ('DEBUG', 'nova.api.openstack.wsgi',
            "Calling method '<bound method %sController.%s of "
            "<nova.api.openstack.compute.%s.%sController object at "
            "0x7f3b2c%06x>>'%s514"
            % (controller, method, controller.lower(), controller,
               zlib.crc32(controller.encode()) & 0xffffff, NOVA_WSGI))


def lock_lines(name, by):
    return [
        ('DEBUG', LOCK, 'Acquiring lock "%s" by "%s"%s405' % (name, by,
                                                             LOCKUTILS)),
        ('DEBUG', LOCK, 'Lock "%s" acquired by "%s" :: waited 0.000s%s410'
         % (name, by, LOCKUTILS)),
        ('DEBUG', LOCK, 'Lock "%s" "released" by "%s" :: held 0.001s%s424'
         % (name, by, LOCKUTILS)),
    ]


CELL_LOCK = ('00000000-0000-0000-0000-000000000000',
             'nova.context.set_target_cell.<locals>.'
             'get_or_set_cached_cell_and_set_connections')


def glance_access(method, path, status, length, seconds, t):
    return ('INFO', 'eventlet.wsgi.server',
            '%s - - [%s] "%s %s HTTP/1.1" %d %d %.6f'
            % (CONTROLLER, time.strftime('%d/%b/%Y %H:%M:%S', time.gmtime(t)),
               method, path, status, length, seconds))


def glance_negotiation(method, path):
    return [
        ('DEBUG', 'glance.api.middleware.version_negotiation',
         'Determining version of request: %s %s Accept: application/json%s44'
         % (method, path, VERSIONS)),
        ('DEBUG', 'glance.api.middleware.version_negotiation',
         'Using url versioning%s57' % VERSIONS),
        ('DEBUG', 'glance.api.middleware.version_negotiation',
         'Matched version: v2%s69' % VERSIONS),
        ('DEBUG', 'glance.api.middleware.version_negotiation',
         'new path %s%s70' % (path, VERSIONS)),
    ]


def oslo_access(logger, method, path, status, length, seconds):
    """oslo.service's (and neutron's) wsgi_log_format access line."""
    return ('INFO', logger, '%s "%s %s HTTP/1.1" status: %d  len: %d '
            'time: %.7f' % (CONTROLLER, method, path, status, length,
                            seconds))


def cinder_lines(ids, method, url, controller, action, status):
    return [
        ('INFO', 'cinder.api.openstack.wsgi', '%s %s' % (method, url)),
        ('DEBUG', 'cinder.api.openstack.wsgi', 'Empty body provided in '
         'request get_body %s720' % CINDER_WSGI),
        ('DEBUG', 'cinder.api.openstack.wsgi', "Calling method '<bound "
         "method %s.%s of <cinder.api.v3.%s object at 0x7f%010x>>' "
         "_process_stack %s872" % (controller, action, controller,
                                   ids.rng.getrandbits(40), CINDER_WSGI)),
        ('INFO', 'cinder.api.openstack.wsgi', '%s returned with HTTP %d'
         % (url, status)),
    ]


def neutron_policy(resource):
    return ('DEBUG', 'neutron.pecan_wsgi.hooks.policy_enforcement',
            "Attributes excluded by policy engine: ['binding:profile', "
            "'binding:vif_details', 'binding:vif_type', 'binding:host_id'] "
            "_exclude_attributes_by_policy %s/neutron/pecan_wsgi/hooks/"
            "policy_enforcement.py:256" % SITE)


def traceback_lines(frames, error):
    """The body of an oslo.log traceback: EXC-mode lines (no ids)."""
    lines = [('ERROR', '', 'Traceback (most recent call last):')]
    for path, number, function, code in frames:
        lines.append(('ERROR', '', '  File "%s/%s", line %d, in %s'
                      % (SITE, path, number, function)))
        lines.append(('ERROR', '', '    ' + code))
    lines.append(('ERROR', '', error))
    lines.append(('ERROR', '', ''))
    return lines


DEADLOCK_FRAMES = (
    ('neutron/pecan_wsgi/hooks/translation.py', 32, 'on_error',
     'raise exc'),
    ('pecan/core.py', 682, '__call__', 'self.invoke_controller(controller, '
     'args, kwargs, state)'),
    ('neutron/pecan_wsgi/controllers/resource.py', 161, 'post',
     'return self.create(resources)'),
    ('oslo_db/api.py', 144, 'wrapper', 'return f(*args, **kwargs)'),
    ('sqlalchemy/engine/base.py', 1967, '_exec_single_context',
     'self.dialect.do_execute('),
    ('pymysql/connections.py', 775, '_read_packet',
     'raise err.OperationalError('),
)
DEADLOCK = ("oslo_db.exception.DBConnectionError: "
            "(pymysql.err.OperationalError) (2013, 'Lost connection to "
            "MySQL server during query')")
NOT_FOUND_FRAMES = (
    ('nova/api/openstack/wsgi.py', 858, '_process_stack',
     'action_result = self.dispatch(meth, request, action_args)'),
    ('nova/api/openstack/wsgi.py', 930, 'dispatch',
     'return method(req=request, **action_args)'),
    ('nova/api/openstack/compute/servers.py', 476, 'show',
     'instance = self._get_server(context, req, id, is_detail=True,'),
    ('nova/compute/api.py', 3050, 'get', 'instance = objects.Instance.'
     'get_by_uuid(context, instance_id, expected_attrs=expected_attrs)'),
    ('oslo_versionedobjects/base.py', 184, 'wrapper',
     'result = fn(cls, context, *args, **kwargs)'),
)


# -- background traffic, one function per kind of request ---------------
#
# Each returns (ctx_user, ctx_project, lines): the lines of one request as
# (level, logger, message) in order; level 'ERROR' with logger '' is a
# traceback line written with the exception prefix.

def _bg_keystone(ids, t):
    rng = ids.rng
    roll = rng.random()
    if roll < 0.58:
        service = rng.choice(('nova', 'neutron', 'glance', 'cinder',
                              'placement'))
        return (ids.service_users[service], ids.service_project,
                keystone_validate(ids))
    if roll < 0.78:
        user = rng.choice(ids.users)
        lines = keystone_issue(ids, user)
        if rng.random() < 0.05:
            lines.insert(3, ('WARNING', 'keystone.common.password_hashing',
                             'Truncating password to algorithm specific '
                             'maximum length 72 characters.'))
        return None, None, lines
    user = rng.choice(ids.users)
    project = rng.choice(ids.projects)
    target = rng.choice((
        ('/v3/projects?name=%s' % rng.choice(('demo', 'admin', 'service')),
         'list_projects', 'RBAC: Adding query filter params (name=demo)'),
        ('/v3/users/%s' % rng.choice(ids.users), 'get_user', None),
        ('/v3/services?type=%s' % rng.choice(('image', 'network',
                                              'compute', 'volumev3')),
         'list_services', 'RBAC: Adding query filter params (type=image)'),
        ('/v3/endpoints?interface=public', 'list_endpoints',
         'RBAC: Adding query filter params (interface=public)'),
        ('/v3/auth/catalog', 'get_auth_catalog', None),
    ))
    path, rule, extra = target
    lines = keystone_request('GET', path) + [
        ('DEBUG', KS_MW, 'Authenticating user token process_request %s406'
         % AUTHCTX),
        ('DEBUG', KS_MW, rbac_context(ids, user, project)),
    ]
    if extra:
        lines.append(('DEBUG', KS_RBAC, extra + ' _extract_filter_values '
                      '%s/keystone/common/rbac_enforcer/enforcer.py:176'
                      % SITE))
    lines.append(('DEBUG', KS_RBAC, 'RBAC: Authorizing `identity:%s()`%s501'
                  % (rule, ENFORCER)))
    if roll > 0.985:
        lines.append(('WARNING', 'keystone.server.flask.application',
                      'Could not find user: %s.: '
                      'keystone.exception.UserNotFound: Could not find '
                      'user: %s.' % (ids.hex(), ids.hex())))
    else:
        lines.append(('DEBUG', KS_RBAC, 'RBAC: Authorization granted'
                      + ENFORCER + '512'))
    return user, project, lines


def _bg_nova_api(ids, t):
    rng = ids.rng
    user = rng.choice(ids.users)
    project = rng.choice(ids.projects)
    roll = rng.random()
    seconds = rng.uniform(0.01, 0.6)
    server = ids.uuid()
    if roll < 0.28:
        path = '/compute/v2.1/servers/detail'
        if rng.random() < 0.5:
            path += '?all_tenants=True&limit=%d' % rng.choice((21, 100))
        lines = [nova_calling('Servers', 'detail'),
                 ('DEBUG', 'nova.compute.api', "Searching by: {'deleted': "
                  "False, 'project_id': '%s'} get_all %s/nova/compute/"
                  "api.py:3143" % (project, SITE))]
        lines += lock_lines(*CELL_LOCK)
        lines.append(nova_access('GET', path, 200, rng.randrange(900, 24000),
                                 seconds))
    elif roll < 0.50:
        path = '/compute/v2.1/servers/%s' % server
        lines = [nova_calling('Servers', 'show')]
        lines += lock_lines(*CELL_LOCK)
        if rng.random() < 0.06:
            lines.append(('INFO', 'nova.api.openstack.wsgi', 'HTTP exception '
                          'thrown: Instance %s could not be found.' % server))
            lines.append(nova_access('GET', path, 404, 111, seconds))
        else:
            lines.append(nova_access('GET', path, 200,
                                     rng.randrange(1800, 2600), seconds))
    elif roll < 0.62:
        flavor = rng.choice(ids.flavors)
        lines = [nova_calling('Flavors', 'show'),
                 nova_access('GET', '/compute/v2.1/flavors/%s' % flavor, 200,
                             rng.randrange(600, 700), seconds)]
    elif roll < 0.72:
        user, project = ids.service_users['neutron'], ids.service_project
        lines = [nova_calling('ServerExternalEvents', 'create'),
                 ('INFO', 'nova.api.openstack.compute.'
                  'server_external_events', 'Creating event '
                  'network-vif-plugged:%s for instance %s on compute-%d'
                  % (ids.uuid(), server, rng.randrange(1, 9)))]
        lines += lock_lines(*CELL_LOCK)
        lines.append(nova_access('POST', '/compute/v2.1/'
                                 'os-server-external-events', 200, 183,
                                 seconds))
    elif roll < 0.82:
        lines = [nova_access('GET', '/compute/', 200, 397, 0.0012, '2.1')]
    elif roll < 0.92:
        # A token validation of a request the cache did not hold.
        lines = validation_lines(ids, 'nova-api', t)
        lines += [nova_calling('Servers', 'show'),
                  nova_access('GET', '/compute/v2.1/servers/%s' % server,
                              200, rng.randrange(1800, 2600), seconds)]
    elif roll < 0.997:
        image = ids.uuid()
        lines = [nova_calling('Servers', 'create'),
                 ('DEBUG', 'nova.compute.api', 'Going to run 1 instances... '
                  '_provision_instances %s/nova/compute/api.py:1157' % SITE)]
        lines += call_lines(ids, 'nova-api', 'glance-api', 'GET',
                            URLS['glance-api'] + '/v2/images/' + image, 200,
                            ids.request_id(), None, 1003, t=t)
        lines += call_lines(ids, 'nova-api', 'neutron-server', 'GET',
                            URLS['neutron-server'] + '/v2.0/networks?id='
                            + ids.uuid(), 200, ids.request_id(), None, 812,
                            t=t)
        lines += lock_lines(*CELL_LOCK)
        lines += [('DEBUG', 'nova.compute.api', '[instance: %s] '
                   'block_device_mapping [BlockDeviceMapping(boot_index=0,'
                   'connection_info=None,created_at=<?>,delete_on_'
                   'termination=True,deleted=<?>,destination_type=\'local\','
                   'device_name=None,device_type=\'disk\',disk_bus=None,'
                   'guest_format=None,id=<?>,image_id=\'%s\',instance=<?>,'
                   'instance_uuid=<?>,no_device=False,snapshot_id=None,'
                   'source_type=\'image\',tag=None,updated_at=<?>,'
                   'uuid=<?>,volume_id=None,volume_size=None,volume_type='
                   'None)] _bdm_validate_set_size_and_instance %s/nova/'
                   'compute/api.py:1622' % (server, image, SITE)),
                  nova_access('POST', '/compute/v2.1/servers', 202, 411,
                              seconds + 0.8)]
    else:
        path = '/compute/v2.1/servers/%s' % server
        lines = [nova_calling('Servers', 'show'),
                 ('ERROR', 'nova.api.openstack.wsgi', 'Unexpected exception '
                  'in API method: oslo_db.exception.DBConnectionError: '
                  "(pymysql.err.OperationalError) (2003, \"Can't connect "
                  "to MySQL server on '%s' ([Errno 111] ECONNREFUSED)\")"
                  % CONTROLLER)]
        lines += traceback_lines(NOT_FOUND_FRAMES, DEADLOCK)
        lines.append(nova_access('GET', path, 500, 224, seconds))
    return user, project, lines


def _bg_nova_conductor(ids, t):
    rng = ids.rng
    roll = rng.random()
    host = 'compute-%d' % rng.randrange(1, 9)
    if roll < 0.3:
        task = rng.choice(('_run_image_cache_manager_pass',
                           '_heal_instance_info_cache',
                           '_sync_power_states', '_cleanup_running_deleted'
                           '_instances', 'update_available_resource'))
        return 'dash', None, [
            ('DEBUG', 'oslo_service.periodic_task', 'Running periodic task '
             'ConductorManager.%s run_periodic_tasks %s/oslo_service/'
             'periodic_task.py:210' % (task, SITE))]
    user = rng.choice(ids.users)
    project = rng.choice(ids.projects)
    server = ids.uuid()
    if roll < 0.75:
        lines = lock_lines(*CELL_LOCK)
        lines.append(('DEBUG', 'nova.conductor.manager', '[instance: %s] '
                      'Instance.save: task_state=%s' % (server, rng.choice((
                          'spawning', 'deleting', 'powering-off',
                          'block_device_mapping')))))
        return user, project, lines
    provider = ids.uuid()
    lines = [
        ('DEBUG', 'nova.scheduler.client.report', 'Inventory has not changed '
         'for provider %s based on inventory data: {\'VCPU\': {\'total\': '
         '16, \'reserved\': 0, \'min_unit\': 1, \'max_unit\': 16, '
         '\'step_size\': 1, \'allocation_ratio\': 4.0}, \'MEMORY_MB\': '
         '{\'total\': 64216, \'reserved\': 512, \'min_unit\': 1, '
         '\'max_unit\': 64216, \'step_size\': 1, \'allocation_ratio\': '
         '1.0}, \'DISK_GB\': {\'total\': 915, \'reserved\': 0, '
         '\'min_unit\': 1, \'max_unit\': 915, \'step_size\': 1, '
         '\'allocation_ratio\': 1.0}} set_inventory_for_provider %s/nova/'
         'scheduler/client/report.py:954' % (provider, SITE)),
        ('DEBUG', 'nova.conductor.manager', 'Took %.2f seconds to select '
         'destinations for 1 instance(s). schedule_and_build_instances '
         '%s/nova/conductor/manager.py:1679' % (rng.uniform(0.05, 1.5),
                                                 SITE)),
        ('INFO', 'nova.conductor.manager', '[instance: %s] Selected host: '
         '%s; Selected node: %s.example.org; Alternates: []'
         % (server, host, host)),
    ]
    return user, project, lines


def _bg_glance(ids, t):
    rng = ids.rng
    user = rng.choice(ids.users)
    project = rng.choice(ids.projects)
    roll = rng.random()
    image = ids.uuid()
    seconds = rng.uniform(0.004, 0.9)
    if roll < 0.4:
        path = '/v2/images/%s' % image
        lines = glance_negotiation('GET', path) + [
            ('DEBUG', 'glance.common.utils', "Sorted locations: "
             "[{'store_name': 'fs'}] sort_image_locations %s/glance/common/"
             "utils.py:923" % SITE),
            glance_access('GET', path, 200, rng.randrange(900, 1100),
                          seconds, t)]
    elif roll < 0.62:
        path = '/v2/images?limit=%d' % rng.choice((20, 25, 1000))
        lines = glance_negotiation('GET', path) + [
            glance_access('GET', path, 200, rng.randrange(69, 40000),
                          seconds, t)]
    elif roll < 0.75:
        lines = [('DEBUG', 'glance.api.middleware.version_negotiation',
                  'Determining version of request: GET / Accept: */*%s44'
                  % VERSIONS),
                 ('DEBUG', 'glance.api.middleware.version_negotiation',
                  'Unknown version. Returning version choices.%s64'
                  % VERSIONS),
                 glance_access('GET', '/', 300, 2016, 0.0017, t)]
    elif roll < 0.9:
        lines = validation_lines(ids, 'glance-api', t)
        path = '/v2/images/%s' % image
        lines += glance_negotiation('GET', path)
        lines.append(glance_access('GET', path, 200, 1003, seconds, t))
    elif roll < 0.998:
        path = '/v2/images/%s/file' % image
        lines = glance_negotiation('PUT', path) + [
            ('DEBUG', 'oslo_utils.imageutils.format_inspector', 'Format '
             'inspector for vmdk does not match, excluding from '
             "consideration (Signature KDMV not found: b'=S\\xf9\\xdb') "
             '_process_chunk %s/oslo_utils/imageutils/format_inspector.py:'
             '1758' % SITE),
            ('DEBUG', 'glance_store._drivers.filesystem', 'Wrote %d bytes to '
             '/opt/stack/data/glance/images/%s with checksum %s and '
             'multihash %s add %s/glance_store/_drivers/filesystem.py:817'
             % (rng.randrange(1 << 20, 1 << 30), image, ids.hex(),
                ids.hex(128), SITE)),
            ('INFO', 'glance.location', 'Image format matched and virtual '
             'size computed: %d' % rng.randrange(1 << 20, 1 << 34)),
            glance_access('PUT', path, 204, 0, seconds + 1.2, t)]
    else:
        path = '/v2/images'
        lines = glance_negotiation('GET', path) + [
            ('ERROR', 'glance.common.wsgi', "Caught error: "
             "'HTTPRequestHeaderFieldsTooLarge' object has no attribute "
             "'project_id': AttributeError: "
             "'HTTPRequestHeaderFieldsTooLarge' object has no attribute "
             "'project_id'")]
        lines += traceback_lines((
            ('glance/common/wsgi.py', 506, '__call__', 'action_result = '
             'self.dispatch(self.controller, action,'),
            ('glance/common/wsgi.py', 547, 'dispatch',
             'return method(*args, **kwargs)'),
            ('glance/api/v2/images.py', 554, 'index',
             "target = {'project_id': req.context.project_id}")),
            "AttributeError: 'HTTPRequestHeaderFieldsTooLarge' object has "
            "no attribute 'project_id'")
        lines.append(glance_access('GET', path, 500, 228, seconds, t))
    return user, project, lines


def _bg_neutron(ids, t):
    rng = ids.rng
    roll = rng.random()
    seconds = rng.uniform(0.01, 0.5)
    if roll < 0.08:
        return 'dash', None, [
            ('DEBUG', 'neutron.db.agents_db', 'Agent healthcheck: found 0 '
             'dead agents out of %d: agent_health_check %s/neutron/db/'
             'agents_db.py:356' % (rng.randrange(6, 40), SITE))]
    if roll < 0.16:
        server = ids.uuid()
        events = ("[{'server_uuid': '%s', 'name': 'network-vif-plugged', "
                  "'status': 'completed', 'tag': '%s'}]"
                  % (server, ids.uuid()))
        lines = [('DEBUG', 'neutron.notifiers.nova', 'Sending events: %s '
                  'send_events %s/neutron/notifiers/nova.py:279'
                  % (events, SITE))]
        lines += call_lines(ids, 'neutron-server', 'nova-api', 'POST', URLS[
            'nova-api'] + '/os-server-external-events', 200,
            ids.request_id(), None, 183, body='{"events": %s}'
            % events.replace("'", '"'), t=t)
        lines.append(('INFO', 'neutron.notifiers.nova', "Nova event matching "
                      "['%s'] response: {'name': 'network-vif-plugged', "
                      "'server_uuid': '%s', 'status': 'completed', 'code': "
                      "200}" % (ids.request_id(), server)))
        return 'dash', None, lines
    user = rng.choice(ids.users)
    project = rng.choice(ids.projects)
    if roll < 0.45:
        path = '/v2.0/ports?device_id=%s&fields=binding%%3Ahost_id' \
            % ids.uuid()
        lines = [neutron_policy('port'),
                 oslo_access('neutron.wsgi', 'GET', path, 200,
                             rng.randrange(300, 3000), seconds)]
    elif roll < 0.62:
        path = '/v2.0/networks?id=%s' % ids.uuid()
        lines = [('DEBUG', 'neutron.pecan_wsgi.hooks.policy_enforcement',
                  "Attributes excluded by policy engine: "
                  "['provider:network_type', 'provider:physical_network', "
                  "'provider:segmentation_id'] _exclude_attributes_by_policy "
                  "%s/neutron/pecan_wsgi/hooks/policy_enforcement.py:256"
                  % SITE),
                 oslo_access('neutron.wsgi', 'GET', path, 200,
                             rng.randrange(700, 1300), seconds)]
    elif roll < 0.74:
        path = '/v2.0/security-groups?tenant_id=%s' % project
        lines = [oslo_access('neutron.wsgi', 'GET', path, 200,
                             rng.randrange(2000, 9000), seconds)]
    elif roll < 0.9:
        port = ids.uuid()
        path = '/v2.0/ports/%s' % port
        lines = [
            ('DEBUG', 'neutron.plugins.ml2.managers', 'Attempting to bind '
             'port %s on host compute-%d for vnic_type normal with profile  '
             'bind_port %s/neutron/plugins/ml2/managers.py:810'
             % (port, rng.randrange(1, 9), SITE)),
            ('DEBUG', 'neutron.plugins.ml2.managers', 'Bound port: %s, host: '
             'compute-%d, vif_type: ovs, vif_details: {"port_filter": true, '
             '"connectivity": "l2", "bridge_name": "br-int", "datapath_type"'
             ': "system"}, binding_levels: [{\'bound_driver\': '
             '\'openvswitch\', \'bound_segment\': {\'id\': \'%s\', '
             '\'network_type\': \'vxlan\', \'physical_network\': None, '
             '\'segmentation_id\': %d, \'network_id\': \'%s\'}}] '
             '_bind_port_level %s/neutron/plugins/ml2/managers.py:950'
             % (port, rng.randrange(1, 9), ids.uuid(),
                rng.randrange(1, 4096), ids.uuid(), SITE)),
            neutron_policy('port'),
            oslo_access('neutron.wsgi', 'PUT', path, 200,
                        rng.randrange(1200, 1500), seconds)]
    else:
        lines = validation_lines(ids, 'neutron-server', t)
        lines.append(oslo_access('neutron.wsgi', 'GET', '/v2.0/networks',
                                 200, rng.randrange(700, 9000), seconds))
    return user, project, lines


def _bg_cinder(ids, t):
    rng = ids.rng
    user = rng.choice(ids.users)
    project = rng.choice(ids.projects)
    roll = rng.random()
    seconds = rng.uniform(0.01, 0.4)
    base = URLS['cinder-api'] + '/v3/' + project
    if roll < 0.35:
        url = base + '/volumes/detail'
        lines = cinder_lines(ids, 'GET', url, 'volumes.VolumeController',
                             'detail', 200)
    elif roll < 0.65:
        url = base + '/volumes/' + ids.uuid()
        lines = cinder_lines(ids, 'GET', url, 'volumes.VolumeController',
                             'show', 200)
        lines.insert(3, ('INFO', 'cinder.volume.api', 'Volume info '
                         'retrieved successfully.'))
    elif roll < 0.8:
        url = base + '/attachments'
        lines = cinder_lines(ids, 'POST', url, 'attachments.'
                             'AttachmentsController', 'create', 200)
        lines[1] = ('DEBUG', 'cinder.api.openstack.wsgi', 'Action: '
                    "'create', calling method: create, body: "
                    '{"attachment": {"instance_uuid": "%s", "volume_uuid": '
                    '"%s"}} _process_stack %s866'
                    % (ids.uuid(), ids.uuid(), CINDER_WSGI))
    elif roll < 0.95:
        url = base + '/volumes/%s/action' % ids.uuid()
        lines = cinder_lines(ids, 'POST', url, 'volume_actions.'
                             'VolumeActionsController', '_reserve', 202)
    else:
        volume = ids.uuid()
        url = base + '/volumes/' + volume
        lines = cinder_lines(ids, 'GET', url, 'volumes.VolumeController',
                             'show', 404)
        lines.insert(3, ('INFO', 'cinder.api.openstack.wsgi', 'HTTP '
                         'exception thrown: Volume %s could not be found.'
                         % volume))
    method = lines[0][2].split(' ', 1)[0]
    status = int(lines[-1][2].rsplit(' ', 1)[1])
    lines.append(oslo_access('eventlet.wsgi.server', method,
                             url[len(URLS['cinder-api']):], status,
                             rng.randrange(200, 6000), seconds))
    return user, project, lines


BACKGROUND = {
    'keystone': _bg_keystone,
    'nova-api': _bg_nova_api,
    'nova-conductor': _bg_nova_conductor,
    'glance-api': _bg_glance,
    'neutron-server': _bg_neutron,
    'cinder-api': _bg_cinder,
}
LOGGERS_AT_START = {
    'keystone': 'keystone.server.flask.core',
    'nova-api': 'nova.api.openstack',
    'nova-conductor': 'nova.service',
    'glance-api': 'glance.common.config',
    'neutron-server': 'neutron.service',
    'cinder-api': 'cinder.service',
}


def restart_lines(ids, service):
    """A service restart: oslo.config's option dump under ``[-]``."""
    logger = LOGGERS_AT_START[service]
    dump = ' log_opt_values %s/oslo_config/cfg.py:' % SITE
    lines = [('INFO', logger, 'Starting %s (pid %d)'
              % (service, ids.rng.randrange(1000, 60000))),
             ('DEBUG', logger, '*' * 80 + dump + '2804'),
             ('DEBUG', logger, 'Configuration options gathered from:'
              + dump + '2805'),
             ('DEBUG', logger, "config files: ['/etc/%s/%s.conf']%s2807"
              % (service.split('-')[0], service, dump))]
    for option, value in (
            ('debug', 'True'), ('default_log_levels', "['amqp=WARN', "
             "'sqlalchemy=WARN', 'oslo.messaging=INFO', "
             "'oslo_messaging=INFO', 'iso8601=WARN', "
             "'urllib3.connectionpool=WARN', 'routes.middleware=WARN', "
             "'stevedore=WARN', 'taskflow=WARN', 'oslo_policy=INFO', "
             "'dogpile.core.dogpile=INFO']"),
            ('log_dir', '/var/log/%s' % service.split('-')[0]),
            ('log_file', '%s.log' % service),
            ('logging_context_format_string', '%(asctime)s.%(msecs)03d '
             '%(process)d %(levelname)s %(name)s [%(global_request_id)s '
             '%(request_id)s %(user_identity)s] %(instance)s%(message)s'),
            ('transport_url', '****'),
            ('database.connection', '****'),
            ('keystone_authtoken.password', '****'),
            ('use_stderr', 'False'), ('use_journal', 'False')):
        lines.append(('DEBUG', logger, '%-30s = %s%s2815'
                      % (option, value, dump)))
    lines.append(('DEBUG', logger, '=' * 80 + dump + '2817'))
    return 'dash', None, lines


# -- the action ---------------------------------------------------------

class ActionLog:
    """The action's lines for one service: (time, line) pairs."""

    def __init__(self, stamp):
        self.stamp = stamp
        self.lines = {name: [] for name in SERVICES}
        self._last_logger = ''


    def add(self, service, t, pid, ctx, lines, step=0.0007):
        """Write ``lines`` from time ``t``; return the time after them."""
        for level, logger, message in lines:
            if logger:
                mode = CTX
            else:
                mode, logger = EXC, self._last_logger
            self._last_logger = logger
            self.lines[service].append((t, format_line(
                self.stamp(t), pid, level, logger, ctx, mode, message)))
            t += step
        return t


def build_action(seed):
    """The action: its global id, hops and lines per file (with times).

    A ``server create --boot-from-volume`` whose client sent the global
    id: a token, three look-ups, the create (nova-api calls glance,
    neutron (one 503 with a traceback, retried) and cinder), the
    conductor's attachment check, two polls; every service validates
    tokens with keystone. Returns ``(global_id, hops, lines, start)``.
    """
    ids = Ids(random.Random('%s:action' % seed))
    rng = ids.rng
    gid = ids.request_id()
    start = ACTION_DAY + rng.uniform(6, 18) * 3600.0
    user, project = ids.users[0], ids.projects[0]
    pid = {name: rng.randrange(2000, 60000) for name in SERVICES}
    log = ActionLog(Stamp())
    hops = []
    image, network, volume = ids.uuid(), ids.uuid(), ids.uuid()
    server, port, attachment = ids.uuid(), ids.uuid(), ids.uuid()
    flavor = '42'

    def ctx(local_id, who=user):
        if who is None:
            return context(gid, local_id)
        return context(gid, local_id, who,
                       project if who == user else ids.service_project)

    def validate(caller, caller_id, t):
        """``caller``'s keystonemiddleware validates a token."""
        kid = ids.request_id()
        url = URLS['keystone'] + '/v3/auth/tokens'
        hops.append({'caller': caller, 'callee': 'keystone',
                     'method': 'GET', 'path': '/v3/auth/tokens',
                     'status': 200})
        cctx = ctx(caller_id, None)
        t = log.add(caller, t, pid[caller], cctx, [
            ('DEBUG', 'keystonemiddleware.auth_token', 'Authenticating user '
             'token process_request %s406' % AUTHCTX)])
        head = call_lines(ids, caller, 'keystone', 'GET', url, 200, kid, gid,
                          7012, validation=True, t=t)
        t = log.add(caller, t, pid[caller], cctx, head[:1])
        service_user = ids.service_users[caller.split('-')[0]]
        t = log.add('keystone', t + 0.002, pid['keystone'],
                    ctx(kid, service_user),
                    keystone_validate(ids), step=0.004)
        return log.add(caller, t + 0.002, pid[caller], cctx, head[1:])

    def call(caller, caller_id, callee, method, url, status, length,
             server_lines, caller_who=user, body=None, t=0.0, took=0.1):
        """``caller`` calls ``callee``: REQ, the callee's lines, RESP."""
        callee_id = ids.request_id()
        path = url.split('//', 1)[1].split('/', 1)[1]
        hops.append({'caller': caller, 'callee': callee, 'method': method,
                     'path': '/' + path, 'status': status})
        head = []
        if caller != 'client':
            head = call_lines(ids, caller, callee, method, url, status,
                              callee_id, gid, length, body=body, t=t)
            cctx = ctx(caller_id, caller_who)
            t = log.add(caller, t, pid[caller], cctx, head[:1])
        t = server_lines(callee_id, t + 0.003)
        if head:
            t = log.add(caller, t + took / 4, pid[caller], cctx, head[1:])
        return t, callee_id

    # 1: the client gets a token (keystone's context has no user yet).
    def token_server(kid, t):
        return log.add('keystone', t, pid['keystone'], ctx(kid, None),
                       keystone_issue(ids, user), step=0.09)
    t, _ = call('client', None, 'keystone', 'POST', URLS['keystone']
                + '/v3/auth/tokens', 201, 7012, token_server, t=start)

    # 2-4: look-ups, each callee validating the new token.
    def lookup(callee, lines, access):
        """A callee that validates the token, logs, then its access line.
        """
        def server(callee_id, t):
            t = validate(callee, callee_id, t)
            t = log.add(callee, t, pid[callee], ctx(callee_id), lines,
                        step=0.006)
            return log.add(callee, t, pid[callee], ctx(callee_id),
                           [access(t)])
        return server

    flavor_path = '/compute/v2.1/flavors/%s' % flavor
    t, _ = call('client', None, 'nova-api', 'GET', URLS['nova-api']
                + '/flavors/' + flavor, 200, 651, lookup(
                    'nova-api', [nova_calling('Flavors', 'show')],
                    lambda t: nova_access('GET', flavor_path, 200, 651,
                                          0.087)), t=t + 0.3)
    image_path = '/v2/images/%s' % image
    t, _ = call('client', None, 'glance-api', 'GET', URLS['glance-api']
                + image_path, 200, 1003, lookup(
                    'glance-api', glance_negotiation('GET', image_path) + [
                        ('DEBUG', 'glance.common.utils', "Sorted locations: "
                         "[{'store_name': 'fs'}] sort_image_locations "
                         "%s/glance/common/utils.py:923" % SITE)],
                    lambda t: glance_access('GET', image_path, 200, 1003,
                                            0.181, t)), t=t + 0.2)
    net_path = '/v2.0/networks?name=private'
    t, _ = call('client', None, 'neutron-server', 'GET',
                URLS['neutron-server'] + net_path, 200, 1182, lookup(
                    'neutron-server', [neutron_policy('network')],
                    lambda t: oslo_access('neutron.wsgi', 'GET', net_path,
                                          200, 1182, 0.1432119)), t=t + 0.2)

    # 5: the create.
    def create_server(nid, t):
        t0 = t
        nctx = ctx(nid)
        nlog = lambda t, lines, step=0.004: log.add(  # noqa: E731
            'nova-api', t, pid['nova-api'], nctx, lines, step)
        t = nlog(t, [nova_calling('Servers', 'create'),
                     ('DEBUG', 'nova.compute.api', 'Going to run 1 '
                      'instances... _provision_instances %s/nova/compute/'
                      'api.py:1157' % SITE)])
        # nova-api -> glance-api, glance validating nova's service token.
        glance_lines = lookup(
            'glance-api', glance_negotiation('GET', image_path),
            lambda t: glance_access('GET', image_path, 200, 1003, 0.122, t))
        t, _ = call('nova-api', nid, 'glance-api', 'GET', URLS['glance-api']
                    + image_path, 200, 1003, glance_lines, t=t)
        t = nlog(t, lock_lines(*CELL_LOCK))
        nets = '/v2.0/networks?id=%s' % network
        t, _ = call('nova-api', nid, 'neutron-server', 'GET',
                    URLS['neutron-server'] + nets, 200, 812, lookup(
                        'neutron-server', [neutron_policy('network')],
                        lambda t: oslo_access('neutron.wsgi', 'GET', nets,
                                              200, 812, 0.0912345)), t=t)
        body = ('{"port": {"network_id": "%s", "admin_state_up": true, '
                '"tenant_id": "%s", "device_id": "%s", "device_owner": '
                '"compute:nova"}}' % (network, project, server))

        def port_failed(callee_id, t):
            lines = [neutron_policy('port'),
                     ('ERROR', 'neutron.pecan_wsgi.hooks.translation',
                      'POST failed.: ' + DEADLOCK)]
            lines += traceback_lines(DEADLOCK_FRAMES, DEADLOCK)
            lines.append(oslo_access('neutron.wsgi', 'POST', '/v2.0/ports',
                                     503, 369, 0.2012345))
            return log.add('neutron-server', t, pid['neutron-server'],
                           ctx(callee_id), lines, step=0.01)

        def port_created(callee_id, t):
            lines = [
                neutron_policy('port'),
                ('DEBUG', 'neutron.pecan_wsgi.hooks.quota_enforcement',
                 "Made reservation on behalf of %s for: {'port': 1} before "
                 "%s/neutron/pecan_wsgi/hooks/quota_enforcement.py:56"
                 % (project, SITE)),
                ('DEBUG', 'neutron.db.db_base_plugin_common', 'Allocated IP '
                 '10.0.0.23 (%s/%s/%s) _store_ip_allocation %s/neutron/db/'
                 'db_base_plugin_common.py:131' % (network, ids.uuid(),
                                                   port, SITE)),
                ('INFO', 'neutron.plugins.ml2.plugin', 'Port %s created'
                 % port),
                oslo_access('neutron.wsgi', 'POST', '/v2.0/ports', 201,
                            1394, 0.4123456)]
            return log.add('neutron-server', t, pid['neutron-server'],
                           ctx(callee_id), lines, step=0.02)

        t, _ = call('nova-api', nid, 'neutron-server', 'POST',
                    URLS['neutron-server'] + '/v2.0/ports', 503, 369,
                    port_failed, body=body, t=t + 0.01)
        t = nlog(t, [('WARNING', KA, 'Retriable status code 503. Retrying '
                      'in 0.5s. 2 retries left')])
        t, _ = call('nova-api', nid, 'neutron-server', 'POST',
                    URLS['neutron-server'] + '/v2.0/ports', 201, 1394,
                    port_created, body=body, t=t + 0.5)
        vol_url = '%s/v3/%s/volumes/%s' % (URLS['cinder-api'], project,
                                            volume)

        def cinder_server(url, controller, action, status, length, extra=()):
            def server(cid, t):
                if action == 'show':
                    t = validate('cinder-api', cid, t)
                method = 'GET' if action == 'show' else 'POST'
                lines = cinder_lines(ids, method, url, controller, action,
                                     status)
                lines[3:3] = list(extra)
                lines.append(oslo_access(
                    'eventlet.wsgi.server', method,
                    url[len(URLS['cinder-api']):], status, length, 0.1103430))
                return log.add('cinder-api', t, pid['cinder-api'],
                               ctx(cid), lines, step=0.008)
            return server

        t, _ = call('nova-api', nid, 'cinder-api', 'GET', vol_url, 200, 1745,
                    cinder_server(vol_url, 'volumes.VolumeController',
                                  'show', 200, 1745, [
                                      ('INFO', 'cinder.volume.api', 'Volume '
                                       'info retrieved successfully.')]),
                    t=t)
        att_url = '%s/v3/%s/attachments' % (URLS['cinder-api'], project)
        t, _ = call('nova-api', nid, 'cinder-api', 'POST', att_url, 200, 913,
                    cinder_server(att_url, 'attachments.'
                                  'AttachmentsController', 'create', 200,
                                  913),
                    body='{"attachment": {"instance_uuid": "%s", '
                    '"volume_uuid": "%s"}}' % (server, volume), t=t)
        t = nlog(t, lock_lines(*CELL_LOCK) + [
            ('DEBUG', 'nova.compute.api', '[instance: %s] '
             'block_device_mapping [BlockDeviceMapping(attachment_id=%s,'
             'boot_index=0,delete_on_termination=False,destination_type='
             '\'volume\',device_type=\'disk\',source_type=\'volume\','
             'volume_id=\'%s\',volume_size=20)] '
             '_bdm_validate_set_size_and_instance %s/nova/compute/api.py:'
             '1622' % (server, attachment, volume, SITE)),
            # The time nova's requestlog measures: from the call to the
            # answer (the five lines above take 0.004 s each).
            nova_access('POST', '/compute/v2.1/servers', 202, 411,
                        t - t0 + 0.0242)])

        # The conductor, over RPC: nova-api's context, so its local id.
        c = t + 0.05
        cctx = ctx(nid)
        clog = lambda t, lines, step=0.01: log.add(  # noqa: E731
            'nova-conductor', t, pid['nova-conductor'], cctx, lines, step)
        c = clog(c, lock_lines(*CELL_LOCK) + [
            ('DEBUG', 'nova.conductor.manager', 'Took 0.41 seconds to '
             'select destinations for 1 instance(s). '
             'schedule_and_build_instances %s/nova/conductor/manager.py:'
             '1679' % SITE),
            ('INFO', 'nova.conductor.manager', '[instance: %s] Selected '
             'host: compute-3; Selected node: compute-3.example.org; '
             'Alternates: [(\'compute-5\', \'compute-5.example.org\')]'
             % server)])
        att = '%s/v3/%s/attachments/%s' % (URLS['cinder-api'], project,
                                           attachment)
        c, _ = call('nova-conductor', nid, 'cinder-api', 'GET', att, 200,
                    913, cinder_server(att, 'attachments.'
                                       'AttachmentsController', 'show', 200,
                                       913), t=c)
        c = clog(c, lock_lines(*CELL_LOCK) + [
            ('DEBUG', 'nova.conductor.manager', '[instance: %s] '
             'Instance.save: task_state=scheduling' % server)])
        return t

    t, _ = call('client', None, 'nova-api', 'POST', URLS['nova-api']
                + '/servers', 202, 411, create_server, t=t + 0.3)

    # 6-7: the client polls the server.
    show = '/compute/v2.1/servers/%s' % server
    for wait in (3.0, 3.0):
        t, _ = call('client', None, 'nova-api', 'GET', URLS['nova-api']
                    + '/servers/' + server, 200, 2291,
                    lambda nid, t: log.add(
                        'nova-api', t, pid['nova-api'], ctx(nid),
                        [nova_calling('Servers', 'show')]
                        + lock_lines(*CELL_LOCK)
                        + [nova_access('GET', show, 200, 2291, 0.0623)]),
                    t=t + wait)
    for lines in log.lines.values():
        lines.sort(key=lambda pair: pair[0])
    return gid, hops, log.lines, start


# -- writing -------------------------------------------------------------

def write_service(path, service, target, seed, start, end, action):
    """Write one service's file; return (bytes, lines) written.

    Time advances with the bytes written, so the day ends as the file
    reaches ``target``; the action's lines go in when the clock passes
    them. Lines are buffered and written in big blocks.
    """
    ids = Ids(random.Random('%s:pool' % seed))
    ids.rng = random.Random('%s:%s' % (seed, service))
    rng = ids.rng
    background = BACKGROUND[service]
    pids = [rng.randrange(1000, 60000) for _ in range(4)]
    t = start
    second, prefix = None, ''
    size = count = 0
    sticky = None
    pending = list(action)
    next_at = pending[0][0] if pending else float('inf')
    index = 0
    out = []
    with open(path, 'w', encoding='ascii', newline='\n') as stream:
        while size < target or index < len(pending):
            if rng.random() < 0.00004:
                user, project, lines = restart_lines(ids, service)
                pids[rng.randrange(len(pids))] = rng.randrange(1000, 60000)
            else:
                user, project, lines = background(ids, t)
            pid = rng.choice(pids)
            if user == 'dash':
                ctx = None
            else:
                roll = rng.random()
                if roll < 0.4:
                    sticky = None
                elif roll < 0.75 or sticky is None:
                    sticky = ids.request_id()
                ctx = context(sticky, ids.request_id(), user, project)
            tails = []
            last_logger = ''
            for level, logger, message in lines:
                if not logger:  # a traceback line: the exception prefix
                    tails.append(' %d ERROR %s %s\n' % (pid, last_logger,
                                                        message))
                    continue
                last_logger = logger
                if ctx:
                    tails.append(' %d %s %s %s %s\n' % (pid, level, logger,
                                                        ctx, message))
                else:
                    tails.append(' %d %s %s [-] %s\n' % (pid, level, logger,
                                                         message))
            # The unit's share of the time left, from its share of the
            # bytes left (23 bytes of timestamp a line).
            width = sum(map(len, tails)) + 23 * len(tails)
            remaining = target - size
            span = (end - t) * width / remaining if remaining > width \
                else 0.001
            step = span * rng.uniform(0.5, 1.5) / len(tails)
            for tail in tails:
                while t >= next_at:
                    line = pending[index][1] + '\n'
                    out.append(line)
                    size += len(line)
                    count += 1
                    index += 1
                    next_at = pending[index][0] if index < len(pending) \
                        else float('inf')
                whole = int(t)
                if whole != second:
                    second = whole
                    prefix = time.strftime('%Y-%m-%d %H:%M:%S',
                                           time.gmtime(whole))
                line = '%s.%03d%s' % (prefix, (t - whole) * 1000, tail)
                out.append(line)
                size += len(line)
                t += step
            count += len(lines)
            if len(out) >= BLOCK_LINES:
                stream.write(''.join(out))
                out.clear()
        stream.write(''.join(out))
    return size, count


def generate(out_dir, size=DEFAULT_SIZE, seed=1, jobs=None):
    """Write the corpus into ``out_dir``; return its manifest (a dict).

    The manifest holds the action's global id under ``'id'``; the file
    ``corpus.json`` holds everything else.
    """
    os.makedirs(out_dir, exist_ok=True)
    gid, hops, action, action_start = build_action(seed)
    places = list(PLACES)
    random.Random('%s:places' % seed).shuffle(places)
    jobs = jobs or min(len(SHARES), os.cpu_count() or 1)
    results = {}
    with concurrent.futures.ProcessPoolExecutor(jobs) as pool:
        futures = {}
        for (service, share), place in zip(SHARES, places, strict=True):
            start = action_start - place * DAY
            path = os.path.join(out_dir, service + '.log')
            futures[service] = pool.submit(
                write_service, path, service, int(size * share), seed,
                start, start + DAY, action[service])
        for service, future in futures.items():
            results[service] = future.result()
    lines = {service + '.log': len(action[service]) for service in SERVICES}
    carrying = {service + '.log': sum(1 for _, line in action[service]
                                      if gid in line)
                for service in SERVICES}
    manifest = {
        'seed': seed,
        'size': sum(size for size, _ in results.values()),
        'files': {service + '.log': {'bytes': results[service][0],
                                     'lines': results[service][1]}
                  for service in SERVICES},
        'action': {
            'services': list(SERVICES),
            'hops': hops,
            'lines': lines,
            'lines_with_id': carrying,
            'total_lines_with_id': sum(carrying.values()),
            'start': time.strftime('%Y-%m-%d %H:%M:%S',
                                   time.gmtime(action_start)),
            'places': dict(zip((s + '.log' for s in SERVICES), places,
                               strict=True)),
        },
    }
    with open(os.path.join(out_dir, MANIFEST_FILE), 'w') as stream:
        json.dump(manifest, stream, indent=1, sort_keys=True)
    with open(os.path.join(out_dir, ACTION_ID_FILE), 'w') as stream:
        stream.write(gid + '\n')
    return dict(manifest, id=gid)


def load(corpus_dir):
    """The manifest of a generated corpus, with the id under ``'id'``."""
    with open(os.path.join(corpus_dir, MANIFEST_FILE)) as stream:
        manifest = json.load(stream)
    with open(os.path.join(corpus_dir, ACTION_ID_FILE)) as stream:
        manifest['id'] = stream.read().strip()
    return manifest


def log_files(corpus_dir):
    return [os.path.join(corpus_dir, service + '.log')
            for service in SERVICES]


def grep_counts(corpus_dir, request_id):
    """Lines holding the id per file, as ``LC_ALL=C grep -F -c`` counts."""
    # NOTE: a fixed argv and no shell: the id is one argument after --.
    result = subprocess.run(  # noqa: S603
        ['grep', '-F', '-c', '--', request_id] + log_files(corpus_dir),
        env=dict(os.environ, LC_ALL='C'), capture_output=True, text=True,
        check=False)
    if result.returncode not in (0, 1):
        raise RuntimeError('grep failed: %s' % result.stderr.strip())
    counts = {}
    for row in result.stdout.splitlines():
        path, _, number = row.rpartition(':')
        counts[os.path.basename(path)] = int(number)
    return counts


def check(corpus_dir, samples=20, run=400):
    """Validate a corpus; return a list of problems (empty: valid).

    ``grep -c`` of the id per file must equal what the generator wrote;
    ``samples`` runs of ``run`` consecutive lines from random offsets of
    each file must all parse with the oslo.log patterns and have
    non-decreasing timestamps; a traceback line must follow an ERROR.
    """
    manifest = load(corpus_dir)
    problems = []
    expected = manifest['action']['lines_with_id']
    counts = grep_counts(corpus_dir, manifest['id'])
    for name, number in expected.items():
        if counts.get(name) != number:
            problems.append('%s: grep -c found %s lines with the id, the '
                            'generator wrote %d' % (name, counts.get(name),
                                                    number))
    rng = random.Random(0)
    for path in log_files(corpus_dir):
        size = os.path.getsize(path)
        with open(path, 'rb') as stream:
            for offset in [0] + [rng.randrange(size) for _ in
                                 range(samples - 1)]:
                stream.seek(offset)
                if offset:
                    stream.readline()  # the rest of a cut line
                problems += _check_run(path, stream, run)
    return problems


def match_line(line):
    """(index in LINE_PATTERNS, match) of an oslo.log line, or (None, None).
    """
    for number, pattern in enumerate(LINE_PATTERNS):
        match = pattern.fullmatch(line)
        if match is not None:
            return number, match
    return None, None


def _check_run(path, stream, run):
    problems = []
    previous = None
    after_error = False
    for _ in range(run):
        raw = stream.readline()
        if not raw:
            break
        line = raw.decode('ascii').rstrip('\n')
        number, match = match_line(line)
        if match is None:
            problems.append('%s: not an oslo.log line: %.120s' % (path, line))
            continue
        # A run may start inside a traceback.
        if number == 2 and not after_error and previous is not None:
            problems.append('%s: traceback line after no ERROR: %.120s'
                            % (path, line))
        after_error = match.group('level') == 'ERROR' if number < 2 \
            else True
        if previous is not None and match.group('time') < previous:
            problems.append('%s: time goes back: %.120s' % (path, line))
        previous = match.group('time')
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add = parser.add_argument
    add('--out', metavar='DIR', help='where to write the corpus (default: '
        'a new directory under the temporary directory)')
    add('--size', type=parse_size, default=DEFAULT_SIZE,
        help='total size, e.g. 1G (default), 512M')
    add('--seed', type=int, default=1, help='default: 1')
    add('--check', metavar='DIR', help='validate the corpus in DIR instead')
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.check)
        for problem in problems:
            print(problem, file=sys.stderr)
        manifest = load(args.check)
        print('%s: %d lines carry %s; %s' % (
            args.check, manifest['action']['total_lines_with_id'],
            manifest['id'], 'valid' if not problems else
            '%d problems' % len(problems)))
        return 1 if problems else 0
    out = args.out or tempfile.mkdtemp(prefix='global-reqid-corpus-')
    if inside_repo(out):
        parser.error('%s is inside the repository: write corpora elsewhere'
                     % out)
    began = time.perf_counter()
    manifest = generate(out, args.size, args.seed)
    took = time.perf_counter() - began
    action = manifest['action']
    print('%s: %.0f MB in %.1f s; %d hops, %d lines carry the action id '
          '(%s)' % (out, manifest['size'] / 1e6, took, len(action['hops']),
                    action['total_lines_with_id'],
                    ', '.join('%s %d' % pair for pair in
                              action['lines_with_id'].items())))
    print(manifest['id'])
    return 0


def inside_repo(path):
    """Tell whether ``path`` is inside this repository."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.abspath(path)
    return os.path.commonpath([repo, path]) == repo


if __name__ == '__main__':
    sys.exit(main())
