"""``global-reqid-trace demo``: a small cloud on 127.0.0.1 traces one action.

Three stand-in services (keystone, glance-api, swift), each a real
PasteDeploy pipeline with the global_reqid filter first, serve one
``openstack image create --file``-like action under a fresh global request
id; the trace is then collected from their event and log files by the same
code as ``global-reqid-trace ID`` and written in every format.
"""

import argparse
import itertools
import os
import secrets
import shlex
import sys
import tempfile

BANNER = """\
This is a demo of global_reqid's real code paths, not of OpenStack. Three
small stand-in services (keystone, glance-api, swift) run on 127.0.0.1,
each a real PasteDeploy pipeline: the global_reqid filter first (outbound
instrumentation on, events to files), a token check that validates the
token with keystone, then the app. They call each other through real
keystoneauth1 sessions and log through oslo.log. A client does what
`openstack image create --file` does, under one fresh global request id,
and the trace below is collected from the services' event and log files
by the same code as `global-reqid-trace ID`.
"""

#: Bytes of the image the client uploads.
IMAGE_BYTES = 64 * 1024
#: (depth, caller, callee, method, route, status) of every hop, depth
#: first; ``{project}`` is the project's id.
EXPECTED = (
    (0, 'client', 'keystone', 'POST', '/v3/auth/tokens', 201),
    (0, 'client', 'glance-api', 'POST', '/v2/images', 201),
    (1, 'glance-api', 'keystone', 'GET', '/v3/auth/tokens', 200),
    (0, 'client', 'glance-api', 'PUT', '/v2/images/{uuid}/file', 204),
    (1, 'glance-api', 'keystone', 'GET', '/v3/auth/tokens', 200),
    (1, 'glance-api', 'swift', 'PUT',
     '/v1/AUTH_{project}/images/{uuid}', 201),
    (2, 'swift', 'keystone', 'GET', '/v3/auth/tokens', 200),
    (0, 'client', 'glance-api', 'GET', '/v2/images/{uuid}', 200),
    (1, 'glance-api', 'keystone', 'GET', '/v3/auth/tokens', 200),
)
FORMATS = ('text', 'mermaid', 'markdown', 'json', 'html')


def build_parser():
    parser = argparse.ArgumentParser(
        prog='global-reqid-trace demo',
        description=__doc__.replace('``', '`'),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='exit status: 0 the trace came out as expected, 1 it did '
               'not (what differs is said), 2 bad usage.')
    parser.add_argument('--dir', metavar='DIR',
                        help='where the paste files, logs, events and the '
                             'trace in every format go; it must be empty '
                             'or not exist (default: a new temporary '
                             'directory, kept)')
    parser.add_argument('-f', '--format', choices=FORMATS, default='text',
                        help='what is shown on the terminal (default: '
                             'text); every format is written to DIR')
    parser.add_argument('--lines', action='store_true',
                        help='text: the log lines under each hop')
    return parser


def main(argv=None):
    """Entry point of ``global-reqid-trace demo``; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code
    directory = _directory(parser, args.dir)
    if directory is None:
        return 2
    return run(directory, args.format, args.lines)


def _directory(parser, path):
    """The demo's directory (made, empty), or None after an error."""
    if path is None:
        return tempfile.mkdtemp(prefix='global-reqid-demo-')
    try:
        os.makedirs(path, exist_ok=True)
        empty = not os.listdir(path)
    except OSError as exc:
        parser.print_usage(sys.stderr)
        sys.stderr.write('global-reqid-trace demo: error: --dir: %s\n'
                         % (exc.strerror or exc))
        return None
    if not empty:
        parser.print_usage(sys.stderr)
        sys.stderr.write('global-reqid-trace demo: error: --dir: %s is not '
                         'empty\n' % path)
        return None
    return os.path.abspath(path)


def run(directory, format_='text', lines=False):
    """Run the demo in ``directory``; return the exit status."""
    # NOTE: imported here so that `demo --help` answers fast.
    from global_reqid import ids
    from global_reqid.cmd import trace as trace_cmd
    from global_reqid.cmd._demo import action
    from global_reqid.cmd._demo import cloud
    from global_reqid.cmd._demo import common
    from global_reqid.cmd._demo import keystone

    out = sys.stdout
    out.write(BANNER + '\n')
    password = secrets.token_urlsafe(18)
    global_id = ids.new_request_id()
    out.write('action: image create --file (%d bytes) as %s\n'
              % (IMAGE_BYTES, global_id))
    out.flush()
    try:
        with cloud.Cloud(directory,
                         keystone.password_hash(password)) as running:
            result = action.image_create(
                running.urls['keystone'], cloud.USER, password,
                cloud.PROJECT, global_id, os.urandom(IMAGE_BYTES))
    except Exception as exc:  # noqa: BLE001 - reported, then exit 1
        sys.stderr.write('global-reqid-trace demo: the action failed: %s: '
                         '%s (the services\' logs are in %s)\n' % (
                             type(exc).__name__, exc,
                             os.path.join(directory, 'logs')))
        return 1
    for method, url, status in result.calls:
        out.write('  client %s %s -> %d\n' % (method, url, status))
    out.write('\n')

    events_dir = os.path.join(directory, 'events')
    logs_dir = os.path.join(directory, 'logs')
    trace, stats = trace_cmd.collect(global_id, events=[events_dir],
                                     logs=[logs_dir])
    if trace is None:
        sys.stderr.write('global-reqid-trace demo: no records for %s in %d '
                         'files\n' % (global_id, stats.files))
        return 1
    color = trace_cmd.use_color('auto', format_, out)
    shown = trace_cmd.render(trace, format_, lines=lines, color=color)
    out.write(shown if shown.endswith('\n') else shown + '\n')
    out.write('\nfiles:\n')
    out.flush()
    if trace_cmd.write_all(trace, directory):
        return 1
    project_id = common.stable_id('project:' + cloud.PROJECT)
    problems = check(trace, global_id, project_id)
    problems += leaks(directory, [shown], (result.token, password))
    out.write('\nopen in a browser: %s\n' % os.path.join(directory,
                                                         'trace.html'))
    out.write('run it again: global-reqid-trace %s --events %s --logs %s\n'
              % (global_id, shlex.quote(events_dir), shlex.quote(logs_dir)))
    if problems:
        for problem in problems:
            sys.stderr.write('global-reqid-trace demo: FAILED: %s\n'
                             % problem)
        return 1
    out.write('OK: %d hops, one global id on every hop, no token or '
              'password in any output\n' % len(EXPECTED))
    return 0


def check(trace, global_id, project_id):
    """What differs between ``trace`` and :data:`EXPECTED`, as sentences."""
    problems = []
    if trace.global_request_id != global_id:
        problems.append('the trace is of %s, not %s'
                        % (trace.global_request_id, global_id))
    # NOTE: imported here so that `demo --help` answers fast.
    from global_reqid.trace.render import text

    got = []
    for step in text.walk(trace.roots):
        depth, hop = len(step.lasts) - 1, step.hop
        got.append((depth, hop.caller, hop.callee, hop.method, hop.route,
                    hop.status))
        if hop.global_request_id != global_id:
            problems.append('%s -> %s %s %s carries %s' % (
                hop.caller, hop.callee, hop.method, hop.path,
                hop.global_request_id))
    expected = [hop[:4] + (hop[4].replace('{project}', project_id),)
                + hop[5:] for hop in EXPECTED]
    for number, (want, have) in enumerate(
            itertools.zip_longest(expected, got), 1):
        if want != have:
            problems.append('hop %d (depth, caller, callee, method, route, '
                            'status): expected %s, got %s'
                            % (number, want, have))
    return problems


def leaks(directory, texts, secrets_):
    """Name every file under ``directory`` or text holding a secret."""
    found = []
    needles = [secret.encode('utf-8') for secret in secrets_ if secret]
    for index, text in enumerate(texts):
        if any(needle in text.encode('utf-8') for needle in needles):
            found.append('a secret is in the output shown (#%d)' % index)
    for root, _, names in os.walk(directory):
        for name in sorted(names):
            path = os.path.join(root, name)
            with open(path, 'rb') as handle:
                data = handle.read()
            if any(needle in data for needle in needles):
                found.append('a secret is in %s' % path)
    return found
