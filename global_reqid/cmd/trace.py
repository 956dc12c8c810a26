"""``global-reqid-trace``: show one action across services.

Four steps, each its own module: find the lines that hold the id
(:mod:`~global_reqid.trace.sources`, :mod:`~global_reqid.trace.scan`),
read them (:mod:`~global_reqid.trace.parse`), build the tree
(:mod:`~global_reqid.trace.correlate`) and render it
(:mod:`global_reqid.trace.render`). Only this module writes.

NOTE: ``--help`` must answer fast, so nothing but the standard library and
:mod:`global_reqid.ids` is imported before the arguments are read.
"""

import argparse
import os
import sys

from global_reqid import ids

DESCRIPTION = """\
Show everything that happened in an OpenStack cloud for one request id:
every HTTP call across services, as a timeline, a sequence diagram, a
request/response dump, JSON or an HTML page.

ID is a global or local request id (req-<uuid>) or its bare uuid; a local
id gives the whole action it belongs to.

SOURCEs are event directories or files, log files or directories, and `-`
for standard input; kinds are told apart by their content.

  global-reqid-trace demo   a small cloud on 127.0.0.1 traces one action
  global-reqid-trace record -- COMMAND [ARGS...]
                            run a client command under one fresh global id
"""

EPILOG = """\
examples:
  global-reqid-trace req-1b6a... --logs '/var/log/kolla/*/*.log*'
  global-reqid-trace req-1b6a... --journal --format mermaid
  journalctl -o json -u 'devstack@*' | global-reqid-trace req-1b6a... -
  global-reqid-trace req-1b6a... --output-dir ./trace-1b6a

exit status: 0 found, 1 nothing found, 2 bad usage.
"""

FORMATS = ('text', 'mermaid', 'markdown', 'json', 'html')

#: What ``--output-dir`` writes: file name -> format.
OUTPUT_FILES = (
    ('trace.txt', 'text'),
    ('diagram.md', 'mermaid'),
    ('body.md', 'markdown'),
    ('trace.json', 'json'),
    ('trace.html', 'html'),
)

#: At most this many skipped lines are listed by ``--verbose``.
MAX_LISTED = 1000


class _Version(argparse.Action):
    """``--version``, importing the package metadata only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from global_reqid import version
        sys.stdout.write('%s %s\n' % (parser.prog, version.version_string()))
        parser.exit(0)


def build_parser():
    parser = argparse.ArgumentParser(
        prog='global-reqid-trace', description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--version', action=_Version,
                        help="show the program's version and exit")
    parser.add_argument('request_id', metavar='ID',
                        help='req-<uuid> or a bare uuid')
    parser.add_argument('sources', metavar='SOURCE', nargs='*', default=[],
                        help='event or log files and directories, '
                             '- for stdin')
    found = parser.add_argument_group('where to look')
    found.add_argument('--events', action='append', default=[],
                       metavar='PATH',
                       help='an event directory or file (repeatable); '
                            'default: the event_dir of --config-file, else '
                            '$GLOBAL_REQID_EVENTS, else '
                            '/var/log/global-reqid when it exists')
    found.add_argument('--logs', action='append', default=[],
                       metavar='PATH',
                       help='an oslo.log file, directory or glob, rotated '
                            'and .gz files included (repeatable)')
    found.add_argument('--journal', action='store_true',
                       help='read the local systemd journal too '
                            '(journalctl; devstack logs there)')
    found.add_argument('--config-file', action='append', default=[],
                       metavar='FILE',
                       help='a service configuration file whose '
                            '[global_reqid] event_dir is the default '
                            'events source')
    found.add_argument('--jobs', type=_positive, default=None, metavar='N',
                       help='processes that scan big inputs '
                            '(default: one per core)')
    shown = parser.add_argument_group('what to show')
    shown.add_argument('-f', '--format', choices=FORMATS, default='text',
                       help='output format (default: text)')
    shown.add_argument('--lines', action='store_true',
                       help='text: the log lines under each hop')
    shown.add_argument('--color', choices=('auto', 'always', 'never'),
                       default='auto',
                       help='text: colour (default: auto, on a terminal '
                            'only; NO_COLOR is honoured)')
    shown.add_argument('-o', '--output', metavar='FILE',
                       help='write the output to FILE instead of stdout')
    shown.add_argument('--output-dir', metavar='DIR',
                       help='write every format to DIR: '
                            + ', '.join(name for name, _ in OUTPUT_FILES))
    shown.add_argument('-v', '--verbose', action='store_true',
                       help='list skipped lines and the files scanned')
    return parser


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError('%r is not a positive number'
                                         % text)
    return value


def main(argv=None):
    """Run the command; return its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ['demo']:
        from global_reqid.cmd import demo
        return demo.main(argv[1:])
    if argv[:1] == ['record']:
        from global_reqid.cmd import record
        return record.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    queried = ids.normalize_request_id(args.request_id)
    if queried is None:
        parser.print_usage(sys.stderr)
        parser.exit(2, 'global-reqid-trace: error: %s is not a request id '
                       '(req-<uuid> or a bare uuid)\n'
                    % ids.safe_repr(args.request_id))
    try:
        return _run(parser, args, queried)
    except BrokenPipeError:
        # NOTE: `global-reqid-trace ... | head` closes the pipe early; that
        # is not an error, and Python must not print one at exit either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write('\n')
        return 130


def _warn(message):
    message = message.rstrip('\n')
    if not message.startswith('global-reqid-trace:'):
        message = 'global-reqid-trace: warning: ' + message
    sys.stderr.write(message + '\n')


def _default_event_dirs(parser, args):
    """The events sources when no --events is given."""
    from global_reqid.events import locations
    if args.config_file:
        directory = _configured_event_dir(parser, args.config_file)
        if directory:
            return [directory]
    env = os.environ.get(locations.EVENT_DIR_ENV)
    if env:
        return [env]
    if os.path.isdir(locations.DEFAULT_EVENT_DIR):
        return [locations.DEFAULT_EVENT_DIR]
    return []


def _configured_event_dir(parser, files):
    from oslo_config import cfg

    from global_reqid import opts
    conf = cfg.ConfigOpts()
    conf.register_opts(opts.all_opts(), group=opts.GROUP)
    try:
        conf(args=[], project='global_reqid', default_config_files=files,
             default_config_dirs=[], validate_default_values=True)
        return conf[opts.GROUP].event_dir
    except (cfg.Error, OSError) as exc:
        parser.print_usage(sys.stderr)
        parser.exit(2, 'global-reqid-trace: error: --config-file: %s\n'
                    % str(exc).splitlines()[0])


def _run(parser, args, queried):
    events = args.events
    if not events:
        # NOTE: a default event directory that does not exist (yet) is
        # not worth a warning; one named on the command line is.
        events = [path for path in _default_event_dirs(parser, args)
                  if os.path.exists(path)]
    if not (events or args.logs or args.sources or args.journal):
        parser.print_usage(sys.stderr)
        parser.exit(2, 'global-reqid-trace: error: nothing to read: give '
                       '--events, --logs, --journal or a SOURCE, or set '
                       '$GLOBAL_REQID_EVENTS\n')
    trace, stats = collect(queried, events=events, logs=args.logs,
                           paths=args.sources, journal=args.journal,
                           jobs=args.jobs, verbose=args.verbose)
    if trace is None:
        sys.stderr.write(
            'global-reqid-trace: no records for %s in %d files '
            '(%d lines scanned)\n' % (queried, stats.files, stats.lines))
        return 1
    if args.output_dir:
        return write_all(trace, args.output_dir)
    text = render(trace, args.format, lines=args.lines,
                  color=_color(args))
    if args.output:
        return _write_file(args.output, text)
    sys.stdout.write(text if text.endswith('\n') else text + '\n')
    sys.stdout.flush()
    return 0


def collect(queried, events=(), logs=(), paths=(), journal=False,
            jobs=None, verbose=False):
    """Find, read and correlate everything about one request id.

    ``queried`` is a normalized ``req-<uuid>``; ``events``, ``logs`` and
    ``paths`` are what ``--events``, ``--logs`` and the SOURCE arguments
    take, ``journal`` is ``--journal``. Warnings (and, when ``verbose``,
    the skipped lines) go to standard error. Return ``(trace, stats)``:
    the :class:`~global_reqid.trace.model.Trace`, or ``None`` when nothing
    was found, and the :class:`~global_reqid.trace.model.Stats` of the
    scan.
    """
    from global_reqid.trace import correlate
    from global_reqid.trace import model
    from global_reqid.trace import scan
    from global_reqid.trace import sources as sources_mod

    sources, warnings = sources_mod.expand(
        events=list(events), logs=list(logs), paths=list(paths),
        journal=journal)
    for message in warnings:
        _warn(message)

    stats = model.Stats()
    progress = scan.Progress(sys.stderr)
    collected = _Collected()
    if any(source.path == sources_mod.STDIN for source in sources):
        # Read once, scanned up to three times (queried id, global id,
        # local ids): a spool file on disk, not memory.
        collected.stdin = _spool(sys.stdin.buffer)
    _collect(collected, sources, [queried], stats, jobs, progress)

    global_id = correlate.global_id_for(queried, collected.events,
                                        collected.lines)
    if global_id != queried:
        _collect(collected, sources, [global_id], stats, jobs, progress,
                 count_files=False)
    locals_ = correlate.local_ids(global_id, collected.events,
                                  collected.lines) - {global_id, queried}
    access = [s for s in sources if s.sniffed == 'access']
    if locals_ and access:
        _collect(collected, access, sorted(locals_), stats, jobs, progress,
                 count_files=False)
    progress.close()
    for message in stats.warnings:
        _warn(message)
    stats.skipped_where = collected.skipped_where
    if verbose:
        for where in collected.skipped_where:
            sys.stderr.write('global-reqid-trace: skipped %s\n' % where)
    if not collected.events and not collected.lines:
        return None, stats

    trace = correlate.build(global_id, queried, collected.events,
                            collected.lines, stats)
    if not any(True for _ in trace.hops()) and not trace.orphan_lines:
        return None, stats
    return trace, stats


class _Collected:
    """Events and log lines found so far, each source line once."""

    def __init__(self):
        self.events = []
        self.lines = []
        self.seen = set()
        self.skipped_where = []
        self.stdin = None


def _spool(stream):
    """A temporary file holding everything ``stream`` gives."""
    import shutil
    import tempfile
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed at exit)
    try:
        shutil.copyfileobj(stream, spool, 1 << 20)
    except OSError as exc:
        _warn('-: cannot read standard input: %s' % exc)
    return spool


def _collect(collected, sources, request_ids, stats, jobs, progress,
             count_files=True):
    from global_reqid.trace import parse
    from global_reqid.trace import scan

    needles = [rid[len('req-'):].encode('ascii') for rid in request_ids]
    found_stats = stats if count_files else type(stats)()
    if collected.stdin is not None:
        collected.stdin.seek(0)
    raws = scan.find(sources, needles, found_stats, jobs=jobs,
                     progress=progress, stdin=collected.stdin)
    if not count_files:
        stats.matched += found_stats.matched
        stats.warnings.extend(w for w in found_stats.warnings
                              if w not in stats.warnings)
    hints = {}
    for source in sources:
        hints[source.path] = (parse.service_from_path(source.path)
                              if source.role == 'logs' else None)
    for raw in raws:
        key = (raw.source, raw.offset)
        if key in collected.seen:
            continue
        collected.seen.add(key)
        kind, value = parse.parse(raw, hints.get(raw.source))
        if kind == 'event':
            collected.events.append(value)
            stats.events += 1
        elif kind == 'log':
            collected.lines.append(value)
        else:
            stats.skipped += 1
            if len(collected.skipped_where) < MAX_LISTED:
                collected.skipped_where.append(
                    '%s:%d: %s' % (raw.source, raw.offset, value))


def _color(args):
    return use_color(args.color, args.format, sys.stdout,
                     to_file=bool(args.output))


def use_color(choice, format_, stream, to_file=False):
    """Whether text goes out in colour: ``choice`` is ``--color``
    (``always``, ``never`` or ``auto``: on a terminal only, NO_COLOR
    honoured); only the ``text`` format has colour."""
    if choice == 'always':
        return True
    if choice == 'never' or format_ != 'text' or to_file:
        return False
    if os.environ.get('NO_COLOR'):
        return False
    return stream.isatty()


def render(trace, format_, lines=False, color=False):
    """Render ``trace`` in one of :data:`FORMATS`; return the text."""
    if format_ == 'text':
        from global_reqid.trace.render import text
        return text.render(trace, lines=lines, color=color)
    if format_ == 'mermaid':
        from global_reqid.trace.render import mermaid
        return mermaid.render(trace)
    if format_ == 'markdown':
        from global_reqid.trace.render import markdown
        return markdown.render(trace)
    if format_ == 'json':
        from global_reqid.trace.render import json
        return json.render(trace)
    from global_reqid.trace.render import html
    return html.render(trace)


def _write_file(path, text):
    try:
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
    except OSError as exc:
        sys.stderr.write('global-reqid-trace: error: cannot write %s: %s\n'
                         % (path, exc.strerror or exc))
        return 2
    return 0


def write_all(trace, directory):
    """Write every format to ``directory`` as ``--output-dir`` does.

    Each path written is printed; return the exit status (2 when a
    directory or file cannot be written).
    """
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        sys.stderr.write('global-reqid-trace: error: cannot create %s: %s\n'
                         % (directory, exc.strerror or exc))
        return 2
    for name, format_ in OUTPUT_FILES:
        text = render(trace, format_, lines=True)
        if format_ == 'mermaid':
            text = '```mermaid\n%s```\n' % (text if text.endswith('\n')
                                            else text + '\n')
        path = os.path.join(directory, name)
        status = _write_file(path, text)
        if status:
            return status
        sys.stdout.write('%s\n' % path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
