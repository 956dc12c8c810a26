"""The filter rules file: which requests are not recorded.

In the spirit of requestshook's ``should_not_hook.json``, JSON or YAML::

    {"mappings": {"{endpoint_id}": "[a-f0-9]+"},
     "filters": [{"from": "glance-api", "to": "keystone", "method": "GET",
                  "urls": ["/identity/{version}/endpoints/{endpoint_id}"]}]}

A request is skipped when one filter matches it. In a filter every given key
must match and a missing key matches anything. ``from`` (the caller's
service name) and ``to`` (the callee's) are a string or a list, compared
exactly and case-sensitively; ``method`` is a string or a list compared
case-insensitively; ``urls`` is a list of path templates, each fully
matching the path without its query string, except that a template ending
in ``/`` matches the path without that slash and every path under it.
Placeholders: :data:`PLACEHOLDERS` plus the file's ``mappings``, which add
or override. No filters, or no file, means record everything.

:class:`Rules` watches a file: it stats it at most once per
``check_interval`` seconds and re-reads it only when it changed. An invalid
version keeps the last good rules and is reported once.
"""

import json
import logging
import os
import re
import threading
import time
import types

LOG = logging.getLogger(__name__)

_UUID = (r'[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
         r'[0-9a-fA-F]{12}|[0-9a-fA-F]{32}')

#: Built-in placeholders and their regexes. ``{id}`` is an id-like segment
#: (digits, 16 or more hex digits, or a uuid): what
#: :func:`global_reqid.events.route.template` shows as ``{id}`` or
#: ``{uuid}``. ``{name}`` is any one segment.
PLACEHOLDERS = types.MappingProxyType({
    '{uuid}': _UUID,
    '{version}': r'v[0-9]+(?:\.[0-9]+)*',
    '{name}': r'[^/]+',
    '{id}': r'[0-9]+|[0-9a-fA-F]{16,}|' + _UUID,
    '{request_id}': r'req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                    r'[0-9a-f]{12}',
})

_TOP_KEYS = ('filters', 'mappings')
_FILTER_KEYS = ('from', 'method', 'to', 'urls')
_PLACEHOLDER_NAME = re.compile(r'\{[A-Za-z_][A-Za-z0-9_]*\}', re.ASCII)
_PLACEHOLDER = re.compile(r'\{[^{}]*\}')
# An HTTP method is a token (RFC 9110).
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)
# The value a lookup key takes for a caller, callee or method no filter
# names.
_OTHER = None


class RulesError(ValueError):
    """An invalid rules file; ``str()`` is one line: ``source: problem``."""

    def __init__(self, source, problem):
        super().__init__('%s: %s' % (source, problem))
        self.source = source
        self.problem = problem


class _Problem(Exception):
    """A problem found while validating, before the source is known."""


class _Filter:
    __slots__ = ('callers', 'callees', 'methods', 'urls')

    def __init__(self, callers, callees, methods, urls):
        self.callers = callers  # frozenset, or None for any
        self.callees = callees
        self.methods = methods  # upper case
        self.urls = urls  # tuple of token tuples, or None for any path


class RuleSet:
    """Compiled, immutable filter rules; :meth:`skip` is the one query."""

    def __init__(self, filters=(), source='<string>'):
        self.source = source
        self._filters = tuple(filters)
        self._callers = frozenset().union(
            *(f.callers for f in self._filters if f.callers))
        self._callees = frozenset().union(
            *(f.callees for f in self._filters if f.callees))
        self._methods = frozenset().union(
            *(f.methods for f in self._filters if f.methods))
        # NOTE: filled lazily and keyed only by names some filter gives (or
        # _OTHER), so it stays small whatever callers and methods clients
        # send. A race fills an entry twice with the same value.
        self._table = {}

    def __len__(self):
        return len(self._filters)

    def __repr__(self):
        return '<RuleSet %s: %d filters>' % (self.source, len(self))

    def skip(self, caller, callee, method, path):
        """Tell whether a request must not be recorded.

        ``path`` is the request path as the client sent it (script name and
        path info); a query string, if any, is ignored.
        """
        if not self._filters:
            return False
        method = method.upper()
        key = (caller if caller in self._callers else _OTHER,
               callee if callee in self._callees else _OTHER,
               method if method in self._methods else _OTHER)
        entry = self._table.get(key)
        if entry is None:
            entry = self._table[key] = self._entry(*key)
        if entry is True or entry is False:
            return entry
        if '?' in path:
            path = path.partition('?')[0]
        return entry.fullmatch(path or '/') is not None

    def _entry(self, caller, callee, method):
        """True, False, or one regex of every url of the matching filters."""
        urls = []
        for f in self._filters:
            if ((f.callers is None or caller in f.callers)
                    and (f.callees is None or callee in f.callees)
                    and (f.methods is None or method in f.methods)):
                if f.urls is None:
                    return True
                urls.extend(f.urls)
        if not urls:
            return False
        return re.compile(_join(urls))


def _join(templates):
    """One regex source for templates given as tuples of tokens.

    Shared beginnings are written once (``/a/{uuid}/(?:b|c)``), so a path is
    scanned once, not once per template.
    """
    trie = {}
    for tokens in templates:
        node = trie
        for token in tokens:
            node = node.setdefault(token, {})
        node[None] = None  # a template ends here
    return _emit(trie)


def _emit(node):
    chain = []
    while len(node) == 1 and None not in node:
        [(token, node)] = node.items()
        chain.append(token)
    alternatives = [token + _emit(child)
                    for token, child in node.items() if token is not None]
    if alternatives:
        chain.append('(?:%s)%s' % ('|'.join(alternatives),
                                   '?' if None in node else ''))
    return ''.join(chain)


#: The rules of an empty file, or of no file: record everything.
EMPTY = RuleSet(source='<none>')


def _type_name(value):
    return type(value).__name__


def _names(value, where, pattern=None):
    """A string or a non-empty list of strings, as a tuple."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise _Problem('%s: must be a string or a non-empty list of '
                       'strings, not %s' % (where, _type_name(value)))
    for i, item in enumerate(items):
        at = where if isinstance(value, str) else '%s[%d]' % (where, i)
        if not isinstance(item, str) or not item:
            raise _Problem('%s: must be a non-empty string, not %r'
                           % (at, item))
        if pattern is not None and not pattern.fullmatch(item):
            raise _Problem('%s: %r is not an HTTP method' % (at, item))
    return tuple(items)


def _user_regex(key, value):
    """Check one user mapping; return its regex, wrapped non-capturing."""
    where = 'mappings[%r]' % (key,)
    if not isinstance(key, str) or not _PLACEHOLDER_NAME.fullmatch(key):
        raise _Problem('%s: a placeholder looks like {name}' % where)
    if not isinstance(value, str) or not value:
        raise _Problem('%s: must be a non-empty regex string, not %r'
                       % (where, value))
    try:
        # Alone first: ')|(' would otherwise pass once wrapped.
        re.compile(value)
        compiled = re.compile('(?:%s)' % value)
    except re.error as exc:
        raise _Problem('%s: bad regex %r: %s' % (where, value, exc)) from None
    # NOTE: plain groups are harmless once wrapped, but names and numbers
    # would clash or point elsewhere when several placeholders are joined.
    if compiled.groupindex or re.search(r'\\[1-9]|\(\?\(', value):
        raise _Problem('%s: named groups, backreferences and conditionals '
                       'are not supported' % where)
    return '(?:%s)' % value


def _template(url, where, mappings):
    """Turn one url template into a regex source, checked by compiling."""
    if not isinstance(url, str) or not url.startswith('/'):
        raise _Problem("%s: must be a path starting with '/', not %r"
                       % (where, url))
    if '?' in url:
        raise _Problem('%s: must not have a query string' % where)
    prefix = url.endswith('/')
    if prefix:
        url = url[:-1]
    # One token per literal character or placeholder, for _join.
    tokens = []
    pos = 0
    for match in _PLACEHOLDER.finditer(url):
        tokens.extend(_literal(url[pos:match.start()], where))
        name = match.group()
        if name not in mappings:
            raise _Problem('%s: unknown placeholder %s' % (where, name))
        tokens.append(mappings[name])
        pos = match.end()
    tokens.extend(_literal(url[pos:], where))
    if prefix:
        tokens.append('(?:/(?s:.*))?')
    try:
        re.compile(''.join(tokens))
    except re.error as exc:  # pragma: no cover - mappings are checked
        raise _Problem('%s: %s' % (where, exc)) from None
    return tuple(tokens)


def _literal(text, where):
    if '{' in text or '}' in text:
        raise _Problem("%s: unbalanced '{' or '}'" % where)
    return [re.escape(char) for char in text]


def _filter(item, where, mappings):
    if not isinstance(item, dict):
        raise _Problem('%s: must be a mapping, not %s'
                       % (where, _type_name(item)))
    for key in item:
        if key not in _FILTER_KEYS:
            raise _Problem('%s: unknown key %r (expected %s)'
                           % (where, key, ', '.join(_FILTER_KEYS)))
    if not item:
        raise _Problem('%s: an empty filter would skip every request; give '
                       'at least one of %s' % (where, ', '.join(_FILTER_KEYS)))
    callers = callees = methods = urls = None
    if 'from' in item:
        callers = frozenset(_names(item['from'], where + '.from'))
    if 'to' in item:
        callees = frozenset(_names(item['to'], where + '.to'))
    if 'method' in item:
        methods = frozenset(
            m.upper() for m in _names(item['method'], where + '.method',
                                      _METHOD))
    if 'urls' in item:
        value = item['urls']
        if not isinstance(value, list) or not value:
            raise _Problem('%s.urls: must be a non-empty list of templates, '
                           'not %s' % (where, _type_name(value)))
        urls = tuple(_template(url, '%s.urls[%d]' % (where, i), mappings)
                     for i, url in enumerate(value))
    return _Filter(callers, callees, methods, urls)


def _validate(data):
    """Check parsed data; return the list of filters."""
    if data is None:
        return []
    if not isinstance(data, dict):
        raise _Problem('top level: must be a mapping, not %s'
                       % _type_name(data))
    for key in data:
        if key not in _TOP_KEYS:
            raise _Problem('top level: unknown key %r (expected %s)'
                           % (key, ', '.join(_TOP_KEYS)))
    user = data.get('mappings', {})
    if not isinstance(user, dict):
        raise _Problem('mappings: must be a mapping, not %s'
                       % _type_name(user))
    mappings = {k: '(?:%s)' % v for k, v in PLACEHOLDERS.items()}
    mappings.update((k, _user_regex(k, v)) for k, v in user.items())
    filters = data.get('filters', [])
    if not isinstance(filters, list):
        raise _Problem('filters: must be a list, not %s'
                       % _type_name(filters))
    return [_filter(item, 'filters[%d]' % i, mappings)
            for i, item in enumerate(filters)]


def _one_line(text):
    return ' '.join(str(text).split())


def _parse(text, source):
    """JSON or YAML by the source's extension; else JSON, then YAML."""
    if not text.strip():
        return None
    ext = os.path.splitext(source)[1].lower()
    if ext != '.yaml' and ext != '.yml':
        try:
            return json.loads(text)
        except ValueError as exc:
            if ext == '.json':
                raise _Problem('invalid JSON: %s' % exc) from None
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML comes with oslo.config
        raise _Problem('YAML rules need PyYAML, which is not installed'
                       ) from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = ('line %d, column %d: ' % (mark.line + 1, mark.column + 1)
                 if mark else '')
        raise _Problem('invalid YAML: %s%s' % (
            where, _one_line(exc.problem or exc.context))) from None
    except yaml.YAMLError as exc:
        raise _Problem('invalid YAML: %s' % _one_line(exc)) from None


def load(text, source='<string>'):
    """Parse and compile rules text into a :class:`RuleSet`.

    ``source`` names the text in errors and, by its extension (``.json``,
    ``.yaml``, ``.yml``), chooses the format; otherwise JSON is tried, then
    YAML. Raises :class:`RulesError`.
    """
    try:
        return RuleSet(_validate(_parse(text, source)), source)
    except _Problem as exc:
        raise RulesError(source, str(exc)) from None


def _read(path):
    """Return ``(text, signature)`` of a file, read through one handle."""
    with open(path, 'rb') as f:
        signature = _signature(os.fstat(f.fileno()))
        data = f.read()
    try:
        return data.decode('utf-8-sig'), signature
    except UnicodeDecodeError as exc:
        raise _Problem('not UTF-8: %s' % exc) from None


def _signature(st):
    # NOTE: the inode too, so a file renamed into place is seen even when
    # it kept the old one's mtime and size (cp -p, rsync -t).
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def parse_file(path):
    """Read and compile a rules file. Raises :class:`RulesError`."""
    try:
        text, _ = _read(path)
    except OSError as exc:
        raise RulesError(path, _one_line(exc.strerror or exc)) from None
    except _Problem as exc:
        raise RulesError(path, str(exc)) from None
    return load(text, path)


class Rules:
    """The rules of one file, reloaded when the file changes.

    ``path`` None or empty means no rules: everything is recorded.
    ``clock`` is injectable so tests need no sleeping. ``checks`` and
    ``reads`` count stats and reads of the file.
    """

    def __init__(self, path, check_interval=1.0, clock=time.monotonic):
        if check_interval < 0:
            raise ValueError('check_interval must be >= 0, not %r'
                             % (check_interval,))
        self.path = path or None
        self.check_interval = check_interval
        self.checks = 0
        self.reads = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._rules = EMPTY
        self._signature = ()  # of the last version seen; None: missing
        self._good = False  # whether _rules came from the file
        self._failed = False
        self._next_check = 0.0
        if self.path:
            self.check()

    @property
    def rules(self):
        """The current :class:`RuleSet`."""
        return self._rules

    def skip(self, caller, callee, method, path):
        """Tell whether a request must not be recorded; never raises."""
        try:
            if (self.path is not None
                    and self._clock() >= self._next_check
                    and self._lock.acquire(blocking=False)):
                # NOTE: other threads go on with the current rules rather
                # than wait for the stat and the read.
                try:
                    self._check()
                finally:
                    self._lock.release()
            return self._rules.skip(caller, callee, method, path)
        except Exception:
            if not self._failed:
                self._failed = True
                LOG.exception('global_reqid: filter rules %s: unexpected '
                              'error; recording the request', self.path)
            return False

    def check(self):
        """Stat the file now, reload it if it changed; return the rules."""
        if self.path is not None:
            with self._lock:
                self._check()
        return self._rules

    def _check(self):
        self._next_check = self._clock() + self.check_interval
        self.checks += 1
        try:
            signature = _signature(os.stat(self.path))
        except FileNotFoundError:
            signature = None
        except OSError as exc:
            signature = ('error', exc.errno)
        if signature == self._signature:
            return
        if signature is None:
            self._signature = None
            self._rules = EMPTY
            self._good = False
            LOG.warning('global_reqid: filter rules %s: file not found; '
                        'recording every request until it appears',
                        self.path)
            return
        self.reads += 1
        try:
            text, signature = _read(self.path)
            rules = load(text, self.path)
        except (OSError, _Problem, RulesError) as exc:
            self._signature = signature
            if isinstance(exc, OSError):
                exc = RulesError(self.path, _one_line(exc.strerror or exc))
            elif isinstance(exc, _Problem):
                exc = RulesError(self.path, str(exc))
            LOG.error('global_reqid: filter rules %s; %s', exc,
                      'keeping the previous rules' if self._good
                      else 'recording every request until it is fixed')
            return
        self._signature = signature
        self._rules = rules
        self._good = True
        LOG.info('global_reqid: filter rules %s: loaded %d filters',
                 self.path, len(rules))
