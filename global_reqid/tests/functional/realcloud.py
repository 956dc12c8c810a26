"""A real keystone and glance-api on 127.0.0.1, for functional tests.

:class:`RealCloud` configures, in a directory of its own, keystone (served
by :mod:`global_reqid.wsgi.keystone`: keystone's application with our
filter in place of oslo's ``RequestId``) and glance-api (``glance.wsgi.api``
with a copy of glance's ``glance-api-paste.ini`` that puts our filter
first, before ``authtoken``), and runs each under gunicorn on a free port:
sqlite databases, fernet keys, glance's file store, oslo.log files with
debug on and gunicorn access logs with the inbound and answered ids, all
under one directory. Both filters write events to ``<directory>/events``
and instrument outbound calls, so keystonemiddleware's token validation
carries the request's global id.

Preparing the databases and keys takes ~20 s; the result is cached under
``$GLOBAL_REQID_CACHE`` (default ``~/.cache/global-reqid``), keyed by the
Python, keystone and glance versions, and copied for each cloud. A machine
without the cache builds it first. Use it as a context manager: the
gunicorn process groups are ended when it exits, whatever happened.
"""

import hashlib
import http.client
import importlib.metadata
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

HOST = '127.0.0.1'
REGION = 'RegionOne'
BIN = os.path.dirname(sys.executable)
#: Where prepared databases and keys are kept between runs.
CACHE_ENV = 'GLOBAL_REQID_CACHE'
#: Changed whenever what the cache holds changes.
CACHE_LAYOUT = 1
#: Seconds a service may take to answer after its start, and a setup step.
START_TIMEOUT = 180
STEP_TIMEOUT = 300
#: gunicorn access lines as global-reqid-trace reads them: the inbound
#: and the answered X-OpenStack-Request-ID of every request.
ACCESS_FORMAT = ('%(t)s pid=%(p)s %(h)s "%(r)s" %(s)s %(b)s %(L)ss '
                 'in_reqid=%({x-openstack-request-id}i)s '
                 'out_reqid=%({x-openstack-request-id}o)s')
ADMIN_USER = 'admin'
GLANCE_USER = 'glance'
SERVICE_PROJECT = 'service'
DEMO_PROJECT = 'demo'

KEYSTONE_CONF = """\
[DEFAULT]
debug = true
use_stderr = false
log_dir = {logs}
log_file = keystone.log

[database]
connection = sqlite:///{state}/keystone.db

[fernet_tokens]
key_repository = {state}/fernet-keys

[fernet_receipts]
key_repository = {state}/fernet-keys

[credential]
key_repository = {state}/credential-keys

[global_reqid]
service_name = keystone
event_dir = {events}
instrument_outbound = true
capture_bodies = {capture_bodies}
"""

GLANCE_CONF = """\
[DEFAULT]
debug = true
use_stderr = false
log_dir = {logs}
log_file = glance-api.log
enabled_backends = fs:file
worker_self_reference_url = {glance_url}

[database]
connection = sqlite:///{state}/glance.db

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = {state}/images/

[os_glance_staging_store]
filesystem_store_datadir = {state}/staging/

[os_glance_tasks_store]
filesystem_store_datadir = {state}/tasks/

[oslo_concurrency]
lock_path = {state}/lock

[paste_deploy]
flavor = keystone
config_file = {etc}/glance-api-paste.ini

[keystone_authtoken]
www_authenticate_uri = {keystone_url}
auth_url = {keystone_url}
auth_type = password
username = {glance_user}
password = {glance_password}
project_name = {service_project}
user_domain_id = default
project_domain_id = default
interface = public
"""

PASTE_FILTER = """
[filter:global_reqid]
paste.filter_factory = global_reqid.middleware:RequestId.factory
service_name = glance-api
event_dir = {events}
instrument_outbound = true
capture_bodies = {capture_bodies}
"""
_KEYSTONE_PIPELINE = re.compile(r'^(keystone\s*=\s*)', re.MULTILINE)


class CloudError(RuntimeError):
    """The cloud could not be prepared or started."""


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def cache_root(environ=None):
    environ = os.environ if environ is None else environ
    if environ.get(CACHE_ENV):
        return environ[CACHE_ENV]
    base = environ.get('XDG_CACHE_HOME') or os.path.join(
        os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'global-reqid')


def cache_key():
    """What the prepared state depends on, as a short hash."""
    parts = {'layout': CACHE_LAYOUT, 'python': sys.version.split()[0],
             'keystone': importlib.metadata.version('keystone'),
             'glance': importlib.metadata.version('glance')}
    blob = json.dumps(parts, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def glance_paste_ini():
    """The path of the glance-api-paste.ini glance installed."""
    for path in importlib.metadata.distribution('glance').files or ():
        if path.name == 'glance-api-paste.ini':
            located = path.locate()
            if os.path.exists(located):
                return str(located)
    raise CloudError('glance-api-paste.ini is not installed with glance')


def paste_with_filter(text, events, capture_bodies=False):
    """glance's paste file with our filter first in the keystone flavor."""
    changed, count = _KEYSTONE_PIPELINE.subn(r'\1global_reqid ', text)
    if count != 1:
        raise CloudError('no single "keystone =" pipeline in glance\'s '
                         'paste file')
    return changed + PASTE_FILTER.format(
        events=events, capture_bodies=_ini_bool(capture_bodies))


def _run(command, env, log, timeout=STEP_TIMEOUT):
    with open(log, 'ab') as out:
        return subprocess.Popen(command, env=env, stdout=out,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL), command, timeout


def _wait_all(started):
    failed = []
    for proc, command, timeout in started:
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = 'timeout'
        if code != 0:
            failed.append('%s %s: %s' % (os.path.basename(command[0]),
                                          command[3], code))
    return failed


def keystone_conf(logs, state, events, capture_bodies=False):
    """keystone.conf's text: one place for the set-up and the service."""
    return KEYSTONE_CONF.format(logs=logs, state=state, events=events,
                                capture_bodies=_ini_bool(capture_bodies))


def _ini_bool(value):
    return 'true' if value else 'false'


def prepare(directory):
    """Databases and keys right after db_sync and bootstrap, in directory.

    Writes ``keystone.db``, ``glance.db``, ``fernet-keys/``,
    ``credential-keys/`` and ``secrets.json`` (the admin password).
    """
    password = secrets.token_urlsafe(18)
    conf = os.path.join(directory, 'keystone-build.conf')
    with open(conf, 'w') as handle:
        handle.write(keystone_conf(logs=directory, state=directory,
                                   events=directory))
    glance_conf = os.path.join(directory, 'glance-build.conf')
    with open(glance_conf, 'w') as handle:
        handle.write('[database]\nconnection = sqlite:///%s/glance.db\n'
                     % directory)
    log = os.path.join(directory, 'prepare.log')
    manage = [os.path.join(BIN, 'keystone-manage'), '--config-file', conf]
    owner = ['--keystone-user', str(os.getuid()),
             '--keystone-group', str(os.getgid())]
    env = dict(os.environ, OS_BOOTSTRAP_PASSWORD=password)
    # Independent steps run together: ~3 s of imports each.
    failed = _wait_all([
        _run(manage + ['fernet_setup'] + owner, env, log),
        _run(manage + ['credential_setup'] + owner, env, log),
        _run(manage + ['db_sync'], env, log),
        _run([os.path.join(BIN, 'glance-manage'), '--config-file',
              glance_conf, 'db_sync'], env, log),
    ])
    if not failed:
        failed = _wait_all([_run(
            manage + ['bootstrap', '--bootstrap-username', ADMIN_USER,
                      '--bootstrap-project-name', 'admin',
                      '--bootstrap-role-name', 'admin',
                      '--bootstrap-region-id', REGION], env, log)])
    if failed:
        with open(log, errors='replace') as handle:
            tail = handle.read()[-3000:]
        raise CloudError('preparing keystone and glance failed (%s):\n%s'
                         % ('; '.join(failed), tail))
    for name in ('keystone-build.conf', 'glance-build.conf', 'prepare.log',
                 'keystone.log'):
        if os.path.exists(os.path.join(directory, name)):
            os.remove(os.path.join(directory, name))
    # Written last: its presence says the state is complete.
    fd = os.open(os.path.join(directory, 'secrets.json'),
                 os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump({'admin_password': password}, handle)


def prepared_state(root=None):
    """The cached prepared state, built first when it is missing."""
    root = root or cache_root()
    final = os.path.join(root, 'realcloud-' + cache_key())
    if os.path.exists(os.path.join(final, 'secrets.json')):
        return final
    os.makedirs(root, exist_ok=True)
    building = tempfile.mkdtemp(prefix='.building-', dir=root)
    try:
        prepare(building)
        try:
            os.rename(building, final)
        except OSError:
            # NOTE: another run finished first; its copy is as good.
            if not os.path.exists(os.path.join(final, 'secrets.json')):
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return final


class Service:
    """One gunicorn process group serving one WSGI application."""

    def __init__(self, name, app, port, env, logs, state):
        self.name = name
        self.port = port
        self.url = 'http://%s:%d' % (HOST, port)
        self.error_log = os.path.join(state, 'gunicorn-%s.log' % name)
        self.command = [
            sys.executable, '-m', 'gunicorn', '--bind', '%s:%d' % (HOST, port),
            '--workers', '1', '--threads', '2', '--timeout', '300',
            '--graceful-timeout', '5', '--no-control-socket',
            # NOTE: with gunicorn's 2 s default, keystone may close the
            # idle connection authtoken's session reuses just as the next
            # validation is sent on it: a ConnectionError in the trace
            # (seen once in four runs; glance answered 401).
            '--keep-alive', '600',
            '--access-logfile', os.path.join(logs, '%s-access.log' % name),
            '--access-logformat', ACCESS_FORMAT,
            '--error-logfile', self.error_log, app]
        self.env = env
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            self.command, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def wait_ready(self, path, deadline):
        """Poll ``path`` until it answers; raise when the service died."""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CloudError('%s exited with %s:\n%s' % (
                    self.name, self.proc.returncode, self.error_tail()))
            conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
            try:
                conn.request('GET', path)
                conn.getresponse().read()
                return
            except (OSError, http.client.HTTPException):
                time.sleep(0.25)
            finally:
                conn.close()
        raise CloudError('%s did not answer within %d s:\n%s' % (
            self.name, START_TIMEOUT, self.error_tail()))

    def error_tail(self):
        try:
            with open(self.error_log, errors='replace') as handle:
                return handle.read()[-3000:]
        except OSError:
            return ''

    def stop(self):
        """End the whole process group; SIGKILL when SIGTERM is not enough."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=grace)
                # The master is gone; its workers must be too.
                os.killpg(proc.pid, 0)
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                break
            time.sleep(0.5)
        proc.wait()


class RealCloud:
    """keystone and glance-api on 127.0.0.1, configured under directory.

    Attributes once started: ``keystone_url``, ``glance_url``, ``events``
    (the event directory), ``logs`` (oslo.log and access logs), and the
    secrets a test must never find in any output (:meth:`secrets`).
    """

    #: keystone's WSGI application: keystone's own, with our filter in
    #: place of oslo's RequestId.
    KEYSTONE_APP = 'global_reqid.wsgi.keystone:application'

    def __init__(self, directory, cache=None, keystone_app=None,
                 capture_bodies=False):
        self.directory = str(directory)
        #: The filter records headers and bodies (the image service page).
        self.capture_bodies = capture_bodies
        self.cache = cache
        self.keystone_app = keystone_app or self.KEYSTONE_APP
        self.etc = os.path.join(self.directory, 'etc')
        self.logs = os.path.join(self.directory, 'logs')
        self.events = os.path.join(self.directory, 'events')
        self.state = os.path.join(self.directory, 'state')
        self.keystone = self.glance = None
        self.admin_password = None
        self.glance_password = secrets.token_urlsafe(18)
        self.ids = {}

    @property
    def keystone_url(self):
        return self.keystone.url + '/v3'

    @property
    def glance_url(self):
        return self.glance.url

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        for path in (self.etc, self.logs, self.events):
            os.makedirs(path, exist_ok=True)
        shutil.copytree(prepared_state(self.cache), self.state)
        with open(os.path.join(self.state, 'secrets.json')) as handle:
            self.admin_password = json.load(handle)['admin_password']
        fill = {'logs': self.logs, 'state': self.state, 'events': self.events,
                'etc': self.etc, 'glance_user': GLANCE_USER,
                'glance_password': self.glance_password,
                'service_project': SERVICE_PROJECT}
        keystone_port, glance_port = free_port(), free_port()
        fill['keystone_url'] = 'http://%s:%d' % (HOST, keystone_port)
        fill['glance_url'] = 'http://%s:%d' % (HOST, glance_port)

        keystone_dir = os.path.join(self.etc, 'keystone')
        glance_dir = os.path.join(self.etc, 'glance')
        os.makedirs(keystone_dir)
        os.makedirs(glance_dir)
        _write(os.path.join(keystone_dir, 'keystone.conf'),
               keystone_conf(fill['logs'], fill['state'], fill['events'],
                             self.capture_bodies))
        fill['etc'] = glance_dir
        _write(os.path.join(glance_dir, 'glance-api.conf'),
               GLANCE_CONF.format(**fill))
        with open(glance_paste_ini()) as handle:
            paste = handle.read()
        _write(os.path.join(glance_dir, 'glance-api-paste.ini'),
               paste_with_filter(paste, self.events, self.capture_bodies))

        self.keystone = Service(
            'keystone', self.keystone_app, keystone_port, dict(os.environ, OS_KEYSTONE_CONFIG_DIR=keystone_dir),
            self.logs, self.state)
        self.glance = Service(
            'glance-api', 'glance.wsgi.api:application', glance_port,
            dict(os.environ, OS_GLANCE_CONFIG_DIR=glance_dir), self.logs,
            self.state)
        # NOTE: glance answers its first request only after keystone
        # answers authtoken, but starts (~10 s of imports) on its own.
        self.keystone.start()
        self.glance.start()
        deadline = time.monotonic() + START_TIMEOUT
        self.keystone.wait_ready('/v3', deadline)
        self._register()
        self.glance.wait_ready('/healthcheck', deadline)

    def stop(self):
        for service in (self.glance, self.keystone):
            if service is not None:
                service.stop()

    def _register(self):
        """Projects, the glance user and the catalog, through the API."""
        from keystoneauth1 import session as ks_session
        from keystoneauth1.identity import v3

        url = self.keystone_url
        auth = v3.Password(auth_url=url, username=ADMIN_USER,
                           password=self.admin_password, project_name='admin',
                           user_domain_id='default',
                           project_domain_id='default')
        sess = ks_session.Session(auth=auth)

        def post(path, key, body):
            return sess.post(url + path, json={key: body}).json()[key]['id']

        for name in (SERVICE_PROJECT, DEMO_PROJECT):
            self.ids[name] = post('/projects', 'project', {
                'name': name, 'domain_id': 'default'})
        user = post('/users', 'user', {
            'name': GLANCE_USER, 'password': self.glance_password,
            'domain_id': 'default'})
        roles = sess.get(url + '/roles?name=service').json()['roles']
        sess.put(url + '/projects/%s/users/%s/roles/%s' % (
            self.ids[SERVICE_PROJECT], user, roles[0]['id']))
        for kind, name, endpoint in (('identity', 'keystone', url),
                                     ('image', 'glance', self.glance_url)):
            service = post('/services', 'service', {'type': kind,
                                                    'name': name})
            for interface in ('public', 'internal', 'admin'):
                post('/endpoints', 'endpoint', {
                    'service_id': service, 'interface': interface,
                    'url': endpoint, 'region_id': REGION})

    def client_env(self, home, environ=None):
        """An environment for the openstack CLI as admin; no clouds.yaml."""
        environ = os.environ if environ is None else environ
        env = {k: v for k, v in environ.items()
               if not k.startswith(('OS_', 'GLOBAL_REQID_'))}
        env.update({
            'HOME': str(home), 'OS_AUTH_URL': self.keystone_url,
            'OS_AUTH_TYPE': 'password', 'OS_USERNAME': ADMIN_USER,
            'OS_PASSWORD': self.admin_password, 'OS_PROJECT_NAME': 'admin',
            'OS_USER_DOMAIN_ID': 'default', 'OS_PROJECT_DOMAIN_ID': 'default',
            'OS_IDENTITY_API_VERSION': '3', 'OS_IMAGE_API_VERSION': '2',
            'OS_INTERFACE': 'public', 'OS_REGION_NAME': REGION})
        return env

    def secrets(self):
        """The passwords no output may show."""
        return [self.admin_password, self.glance_password]


def _write(path, text):
    with open(path, 'w') as handle:
        handle.write(textwrap.dedent(text))
