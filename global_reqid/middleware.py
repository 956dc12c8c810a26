"""The request id filter: a drop-in replacement for oslo's ``RequestId``.

Per request it validates the inbound ``X-OpenStack-Request-ID`` and the
trace-link headers, mints a fresh local id, sets oslo's environ keys, makes
the ids current (our holder and oslo.context's thread-local) for exactly the
time the request is served, and answers the local id.
"""

import functools
import logging
import os
import re
import sys
import threading

from oslo_config import cfg

from global_reqid import context as reqid_context
from global_reqid import ids
from global_reqid import opts
from global_reqid.events import recorder as recorder_module
from global_reqid.events import rules
from global_reqid.events import sinks

LOG = logging.getLogger(__name__)

#: Paste keys oslo.middleware's base understands; we honour them too.
OSLO_PASTE_KEYS = frozenset(
    ('oslo_config_project', 'oslo_config_file', 'oslo_config_program'))
#: Keys PasteDeploy (``__file__``, ``here``) and swift's paste loader
#: (``__name__``) put in every filter's conf.
_PASTE_INTERNAL_KEYS = frozenset(('__file__', 'here', '__name__'))
#: Program names that say nothing about the service they run.
_GENERIC_PROGRAMS = frozenset((
    'gunicorn', 'uwsgi', 'httpd', 'apache2', 'mod_wsgi', 'mod_wsgi-express',
    'python', 'python3', 'pytest', 'py.test', '-c', '', 'waitress-serve',
    'uvicorn', '__main__'))

#: An HTTP header name: RFC 9110 token characters.
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}", re.ASCII)
_TRACE_LINKS = (
    (ids.HTTP_CALLER, ids.ENV_CALLER, ids.is_valid_service_name, 'caller'),
    (ids.HTTP_PARENT, ids.ENV_PARENT_REQUEST_ID, ids.is_valid_request_id,
     'parent'),
)


class ConfigError(ValueError):
    """The filter's configuration is wrong; raised when it is loaded."""


def _option_names():
    return frozenset(opt.dest for opt in opts.all_opts())


def check_paste_options(conf):
    """Raise :class:`ConfigError` for a key no part of the filter knows."""
    unknown = sorted(set(conf) - _option_names() - OSLO_PASTE_KEYS
                     - _PASTE_INTERNAL_KEYS)
    if unknown:
        raise ConfigError(
            'global_reqid: unknown option(s) %s in the filter\'s paste '
            'section; known: %s' % (
                ', '.join(unknown),
                ', '.join(sorted(_option_names() | OSLO_PASTE_KEYS))))


def _oslo_conf_for(conf):
    """The ConfigOpts that backs a paste dict, as oslo.middleware finds it."""
    if 'oslo_config_project' not in conf:
        # NOTE: the global CONF only here, at the edge, as oslo does:
        # services parse it before they load their paste pipeline.
        return cfg.CONF
    oslo_conf = cfg.ConfigOpts()
    files = ([conf['oslo_config_file']] if 'oslo_config_file' in conf
             else None)
    oslo_conf([], project=conf['oslo_config_project'],
              prog=conf.get('oslo_config_program'),
              default_config_files=files, validate_default_values=True)
    return oslo_conf


def default_service_name(paste_file=None, oslo_conf=None, argv0=None):
    """Guess a service name from the paste file, oslo.config or the program.

    ``/etc/glance/glance-api-paste.ini`` gives ``glance-api``,
    ``/etc/nova/api-paste.ini`` gives ``nova-api``,
    ``/etc/swift/proxy-server.conf`` gives ``swift-proxy-server``.
    """
    if paste_file:
        folder = os.path.basename(os.path.dirname(os.path.abspath(
            paste_file)))
        stem = os.path.basename(paste_file).split('.')[0]
        for suffix in ('-paste', '_paste'):
            if stem.endswith(suffix):
                stem = stem[:-len(suffix)]
        if folder and folder not in ('etc', 'tmp') and \
                not stem.startswith(folder):
            stem = '%s-%s' % (folder, stem)
        if ids.is_valid_service_name(stem):
            return stem
    for attr in ('prog', 'project'):
        name = getattr(oslo_conf, attr, None) if oslo_conf else None
        if name and name not in _GENERIC_PROGRAMS and \
                ids.is_valid_service_name(name):
            return name
    program = os.path.basename(argv0 if argv0 is not None
                               else (sys.argv[0] if sys.argv else ''))
    if program.endswith('.py'):
        program = program[:-3]
    if program not in _GENERIC_PROGRAMS and ids.is_valid_service_name(
            program):
        return program
    return 'unknown'


class RequestId:
    """WSGI filter that gives every request a local and a global id.

    Use it as a paste filter::

        [filter:global_reqid]
        paste.filter_factory = global_reqid.middleware:RequestId.factory
        service_name = glance-api

    or in code-built pipelines: ``RequestId(app, conf)`` where ``conf`` is a
    dict of the options above or an oslo.config ``ConfigOpts``.
    """

    def __init__(self, application, conf=None):
        self.application = application
        if isinstance(conf, cfg.ConfigOpts):
            paste, oslo_conf = {}, conf
        else:
            paste = dict(conf or {})
            check_paste_options(paste)
            oslo_conf = _oslo_conf_for(paste)
        oslo_conf.register_opts(opts.all_opts(), group=opts.GROUP)
        group = getattr(oslo_conf, opts.GROUP)
        values = {}
        for opt in opts.all_opts():
            if opt.dest in paste:
                try:
                    values[opt.dest] = opt.type(paste[opt.dest])
                except ValueError as exc:
                    raise ConfigError('global_reqid: bad value for %s: %s'
                                      % (opt.dest, exc)) from None
            else:
                values[opt.dest] = getattr(group, opt.dest)

        name = values['service_name'] or default_service_name(
            paste.get('__file__'), oslo_conf)
        if not ids.is_valid_service_name(name):
            raise ConfigError(
                'global_reqid: service_name %r is not 1-64 characters of '
                '[A-Za-z0-9._:-]' % (name,))
        self.service_name = name

        answer = [ids.REQUEST_ID_HEADER]
        for header in values['compat_headers'] or ():
            header = header.strip()
            if not _HEADER_NAME.fullmatch(header):
                raise ConfigError('global_reqid: compat_headers: %r is not '
                                  'an HTTP header name' % (header,))
            if header.lower() not in {h.lower() for h in answer}:
                answer.append(header)
        self.answer_headers = tuple(answer)
        self._downstream_global = values['downstream_request_id'] == 'global'
        # The common case, one answer header, gets the cheapest check.
        self._answer_one = answer[0].lower() if len(answer) == 1 else None

        self._lock = threading.Lock()
        self._dropped = {'request_id': 0, 'caller': 0, 'parent': 0}
        self._recorder = _make_recorder(values, self.service_name)
        if values['instrument_outbound']:
            # NOTE: explicit in the operator's configuration, process-wide
            # and reversible (global_reqid.client.uninstrument()).
            from global_reqid import client
            client.instrument(
                service_name=self.service_name,
                sinks=self._recorder.sinks if self._recorder else ())

    @classmethod
    def factory(cls, global_conf, **local_conf):
        """paste.deploy filter factory.

        ``[DEFAULT]`` values whose names are ours apply; a misspelled key in
        the filter's own section is an error, raised at load time.
        """
        check_paste_options(local_conf)
        known = _option_names() | _PASTE_INTERNAL_KEYS
        conf = {k: v for k, v in (global_conf or {}).items() if k in known}
        conf.update(local_conf)

        def _factory(app):
            return cls(app, conf)
        return _factory

    def flush(self, timeout=5.0):
        """Wait until the events recorded so far are written; True if so."""
        if self._recorder is None:
            return True
        return all(sink.flush(timeout) for sink in self._recorder.sinks
                   if hasattr(sink, 'flush'))

    def close(self, timeout=5.0):
        """Write what was recorded, stop the event writers; True if all
        was written.

        For programs that load and drop filters (tests, the demo): a
        service's filter lives as long as its process, whose exit closes
        the sinks. A request served after ``close()`` starts a writer
        again. Outbound instrumentation is process-wide and stays: undo
        it with :func:`global_reqid.client.uninstrument`.
        """
        if self._recorder is None:
            return True
        return all([sink.close(timeout) for sink in self._recorder.sinks
                    if hasattr(sink, 'close')])

    @property
    def event_stats(self):
        """Counts of each event sink (written, dropped, ...), by sink."""
        if self._recorder is None:
            return {}
        return {type(sink).__name__: sink.stats()
                for sink in self._recorder.sinks if hasattr(sink, 'stats')}

    @property
    def dropped(self):
        """Counts of inbound headers dropped as invalid, by header."""
        with self._lock:
            return dict(self._dropped)

    def _drop(self, what, value):
        with self._lock:
            self._dropped[what] += 1
        if LOG.isEnabledFor(logging.DEBUG):
            LOG.debug('%s: dropped an invalid inbound %s header: %s',
                      self.service_name, what, ids.safe_repr(value))

    def __call__(self, environ, start_response):
        inbound = environ.get(ids.HTTP_REQUEST_ID)
        if inbound is not None and ids.is_valid_request_id(inbound):
            global_id = inbound
            environ[ids.ENV_GLOBAL_REQUEST_ID] = inbound
        else:
            global_id = None
            # A filter stacked before us (oslo's) may have set it from a
            # value we reject.
            environ.pop(ids.ENV_GLOBAL_REQUEST_ID, None)
            if inbound is not None:
                self._drop('request_id', inbound)
        local_id = ids.new_request_id()
        environ[ids.ENV_REQUEST_ID] = local_id
        # NOTE: glance (and any app that reads the raw header) copies the
        # inbound header into its local id: by default the app sees our
        # fresh, valid local id there, never the raw value. With
        # downstream_request_id = global it sees the validated global id
        # (or no header), for an oslo RequestId subclass further down.
        if not self._downstream_global:
            environ[ids.HTTP_REQUEST_ID] = local_id
        elif global_id is None and inbound is not None:
            del environ[ids.HTTP_REQUEST_ID]

        caller = parent = None
        if ids.HTTP_CALLER in environ or ids.HTTP_PARENT in environ:
            caller, parent = self._trace_links(environ)

        held = _new_ids((local_id, global_id, self.service_name, caller,
                         parent))
        token = reqid_context.activate(held)

        answer_one = self._answer_one
        if answer_one is not None:
            def answered(headers):
                for name, _ in headers:
                    if name.lower() == answer_one:
                        return headers
                headers = list(headers)
                headers.append((ids.REQUEST_ID_HEADER, local_id))
                return headers
        else:
            def answered(headers):
                present = {name.lower() for name, _ in headers}
                return list(headers) + [
                    (h, local_id) for h in self.answer_headers
                    if h.lower() not in present]

        recorder = self._recorder
        if recorder is not None and not recorder.skip(held, environ):
            # NOTE: the recorder calls answered() itself, so that the
            # response headers it captures are the ones really sent.
            return recorder.serve(
                self.application, environ, start_response, held,
                functools.partial(reqid_context.deactivate, token),
                answered=answered)

        def _start_response(status, headers, exc_info=None):
            return start_response(status, answered(headers), exc_info)

        try:
            result = self.application(environ, _start_response)
        except BaseException:
            reqid_context.deactivate(token)
            raise
        if type(result) is list or type(result) is tuple:
            reqid_context.deactivate(token)
            return result
        return _ClosingIterable(result, _Ending(token))

    def _trace_links(self, environ):
        """Validate the trace-link headers; return (caller, parent)."""
        found = []
        for http_key, env_key, valid, what in _TRACE_LINKS:
            value = environ.get(http_key)
            if value is not None and not valid(value):
                del environ[http_key]
                self._drop(what, value)
                value = None
            elif value is not None:
                environ[env_key] = value
            found.append(value)
        return found


def _make_recorder(values, service):
    """The event recorder the options ask for, or None for no events."""
    directory = (values['event_dir'] or os.environ.get(opts.EVENT_DIR_ENV)
                 or opts.DEFAULT_EVENT_DIR)
    try:
        made = sinks.make_sinks(
            values['event_sinks'] or (), service=service,
            directory=directory, max_bytes=values['event_max_bytes'],
            backup_count=values['event_backup_count'],
            compress=values['event_compress'],
            queue_size=values['event_queue_size'])
    except ValueError as exc:
        raise ConfigError('global_reqid: event_sinks: %s' % exc) from None
    # NOTE: "none" records nothing: no recorder, no per-request work.
    made = [sink for sink in made if not isinstance(sink, sinks.NoneSink)]
    if not made:
        return None
    filter_rules = (rules.Rules(values['filter_rules'])
                    if values['filter_rules'] else None)
    return recorder_module.Recorder(
        made, filter_rules, capture_bodies=values['capture_bodies'],
        max_body_bytes=values['max_body_bytes'])


# NOTE: tuple.__new__ skips the NamedTuple's Python-level __new__: half the
# cost, on every request.
_new_ids = functools.partial(tuple.__new__, reqid_context.RequestIds)


class _Ending:
    """Ends a streamed request once, when the server closes the body."""

    __slots__ = ('_token',)

    def __init__(self, token):
        self._token = token

    def __call__(self):
        token, self._token = self._token, None
        if token is not None:
            reqid_context.deactivate(token)


class _ClosingIterable:
    """A response body that ends the request when the server closes it."""

    __slots__ = ('_result', '_done')

    def __init__(self, result, done):
        self._result = result
        self._done = done

    def __iter__(self):
        return iter(self._result)

    def close(self):
        recorder_module.close_then(self._result, self._done)
