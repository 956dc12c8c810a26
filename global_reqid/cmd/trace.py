"""``global-reqid-trace``: show one action across services."""

import argparse
import sys

from global_reqid import ids
from global_reqid import version

DESCRIPTION = """\
Show everything that happened in an OpenStack cloud for one request id:
every HTTP call across services, as a sequence diagram or a timeline.

ID is a global or local request id (req-<uuid>) or its bare uuid.

  global-reqid-trace demo   two services on 127.0.0.1 share one global id
  global-reqid-trace record -- COMMAND [ARGS...]
                            run a client command under one fresh global id
"""

EPILOG = """\
exit status: 0 found, 1 nothing found, 2 bad usage.

Collecting and rendering traces arrives in a later release; this release
validates the id and reports the version.
"""


def build_parser():
    parser = argparse.ArgumentParser(
        prog='global-reqid-trace', description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--version', action='version',
                        version='%(prog)s ' + version.version_string())
    parser.add_argument('request_id', metavar='ID',
                        help='req-<uuid> or a bare uuid')
    parser.add_argument('sources', metavar='SOURCE', nargs='*', default=[],
                        help='event or log files and directories')
    return parser


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
    request_id = ids.normalize_request_id(args.request_id)
    if request_id is None:
        parser.exit(2, 'global-reqid-trace: error: %s is not a request id '
                       '(req-<uuid> or a bare uuid)\n'
                    % ids.safe_repr(args.request_id))
    sys.stderr.write('global-reqid-trace: %s: collecting traces is not in '
                     'this release yet\n' % request_id)
    return 1


if __name__ == '__main__':
    sys.exit(main())
