"""``global-reqid-trace record``: run a client command as one action.

Runs COMMAND under one fresh global request id: every HTTP call made by
the Python programs it starts (the ``openstack`` CLI, openstacksdk
scripts) carries that id in ``X-OpenStack-Request-ID``, keystone discovery
and token requests included, and is recorded as a ``client`` event. The
id comes first on stderr; when COMMAND ends, the id and where its events
are. COMMAND's stdin, stdout, stderr and exit status are its own.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading

from global_reqid import ids
from global_reqid.events import reader

PROG = 'global-reqid-trace record'
#: The environment record's child processes read
#: (:func:`global_reqid.client.instrument_from_environment`). The names are
#: client's and opts'; not imported, so record starts without loading
#: keystoneauth1 and oslo.config.
RECORD_ID_ENV = 'GLOBAL_REQID_RECORD_ID'
RECORD_NAME_ENV = 'GLOBAL_REQID_RECORD_NAME'
EVENTS_ENV = 'GLOBAL_REQID_EVENTS'
#: The directory of the ``sitecustomize`` that instruments a Python child.
SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        '_record_site')
#: Signals passed on to COMMAND when sent to record by another process.
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                     signal.SIGQUIT)
# siginfo si_code of a signal the kernel sent, e.g. the terminal's Ctrl-C,
# which the terminal's whole foreground process group, COMMAND included,
# receives.
_SI_KERNEL = 0x80
_UNSAFE_NAME = re.compile(r'[^A-Za-z0-9._:-]', re.ASCII)

EPILOG = """\
environment given to COMMAND:
  GLOBAL_REQID_RECORD_ID    the global id
  GLOBAL_REQID_RECORD_NAME  the caller name (--name)
  GLOBAL_REQID_EVENTS       the events directory (--events)
  PYTHONPATH                prefixed with a directory whose sitecustomize
                            instruments Python programs at start-up

exit status: COMMAND's; 127 when it cannot be found, 126 when it cannot
be run, 128+N when signal N ended it, 2 for bad usage.
"""


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG, usage='%(prog)s [--name NAME] [--events DIR] '
                         '-- COMMAND [ARGS...]',
        description=__doc__.split('\n', 1)[1].replace('``', ''),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--name', metavar='NAME',
                        help='caller name the calls carry '
                             '(default: the basename of COMMAND)')
    parser.add_argument('--events', metavar='DIR',
                        help='where client events are written (default: '
                             '$GLOBAL_REQID_EVENTS, else a new temporary '
                             'directory)')
    parser.add_argument('command', metavar='COMMAND',
                        nargs=argparse.REMAINDER,
                        help='the command to run and its arguments')
    return parser


def parse_args(argv):
    """Options before ``--``, the command after it."""
    parser = build_parser()
    if '--' in argv:
        split = argv.index('--')
        args = parser.parse_args(argv[:split])
        if args.command:
            parser.error('unexpected %s before "--"' % ' '.join(
                args.command))
        args.command = argv[split + 1:]
    else:
        args = parser.parse_args(argv)
    if not args.command:
        parser.error('a COMMAND to run is required, after "--"')
    if args.name is not None and not ids.is_valid_service_name(args.name):
        parser.error('--name: %s is not 1-64 characters of '
                     '[A-Za-z0-9._:-]' % ids.safe_repr(args.name))
    return args


def default_name(command):
    """The caller name of a command: its basename, made a valid name."""
    name = _UNSAFE_NAME.sub('_', os.path.basename(command))[:64]
    return name if ids.is_valid_service_name(name) else 'client'


def child_environment(environ, global_id, name, events):
    """The environment COMMAND runs with."""
    env = dict(environ)
    env[RECORD_ID_ENV] = global_id
    env[RECORD_NAME_ENV] = name
    env[EVENTS_ENV] = events
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep)
             if p and p != SITE_DIR]
    env['PYTHONPATH'] = os.pathsep.join([SITE_DIR] + paths)
    return env


class CommandError(Exception):
    """COMMAND could not be started; ``status`` is what a shell returns."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def start(command, env):
    """Start ``command`` with stdin, stdout and stderr passed through."""
    try:
        return subprocess.Popen(command, env=env)  # noqa: S603 - the user's own
    except FileNotFoundError:
        raise CommandError(127, '%s: command not found' % command[0]) \
            from None
    except OSError as exc:
        raise CommandError(126, '%s: %s' % (command[0], exc.strerror)) \
            from None


def run(command, env):
    """Run ``command``; return its return code (-N: ended by signal N).

    Signals another process sends to this one are passed on to the
    command; those the terminal sends (Ctrl-C) reach it directly, as it is
    in the terminal's foreground process group.
    """
    if threading.current_thread() is not threading.main_thread():
        return start(command, env).wait()
    forwarded = [s for s in FORWARDED_SIGNALS
                 if signal.getsignal(s) != signal.SIG_IGN]
    watched = set(forwarded) | {signal.SIGCHLD}
    # NOTE: until the signals are blocked, handlers note them instead of
    # raising KeyboardInterrupt; exec() resets them to the defaults in the
    # command. Once blocked, a signal waits for sigtimedwait: none is lost
    # between poll() and the wait. SIGCHLD wakes the wait when it ends.
    caught = []
    handlers = {s: signal.signal(s, lambda signum, _: caught.append(signum))
                for s in forwarded}
    try:
        child = start(command, env)
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, signal.SIG_DFL if handler is None
                          else handler)
    try:
        for signum in caught:
            _forward(child, signum)
        while child.poll() is None:
            info = signal.sigtimedwait(watched, 1.0)
            if (info is not None and info.si_signo != signal.SIGCHLD
                    and info.si_code != _SI_KERNEL):
                _forward(child, info.si_signo)
        # The terminal's Ctrl-C may still be pending when the command has
        # ended: taken here, it cannot interrupt the summary. A standard
        # signal is pending at most once.
        for _ in range(len(watched)):
            if signal.sigtimedwait(watched, 0) is None:
                break
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return child.returncode


def _forward(child, signum):
    try:
        child.send_signal(signum)
    except ProcessLookupError:
        pass


def count_client_events(directory, global_id):
    """How many ``client`` events carrying ``global_id`` are in directory."""
    try:
        return sum(1 for event in reader.iter_directory(directory)
                   if event.get('kind') == 'client'
                   and event.get('global_request_id') == global_id)
    except OSError:
        return 0


def _remove_empty(directory):
    try:
        os.rmdir(directory)
    except OSError:
        pass


def _say(text):
    sys.stderr.write('global-reqid-trace: %s\n' % text)
    sys.stderr.flush()


def main(argv=None):
    """Entry point of ``global-reqid-trace record``; COMMAND's status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parse_args(argv)
    except SystemExit as exc:
        return exc.code
    command = args.command
    name = args.name or default_name(command[0])
    events = args.events or os.environ.get(EVENTS_ENV)
    made = not events
    # Absolute: the command may change directory before it writes.
    events = os.path.abspath(events) if events else tempfile.mkdtemp(
        prefix='global-reqid-record-')
    global_id = ids.new_request_id()
    _say('recording %s as %s' % (os.path.basename(command[0]), global_id))
    try:
        returncode = run(command, child_environment(os.environ, global_id,
                                                    name, events))
    except CommandError as exc:
        _say('error: %s' % exc)
        if made:
            _remove_empty(events)
        return exc.status
    count = count_client_events(events, global_id)
    if count:
        found = '%d client event%s in %s' % (count, '' if count == 1
                                             else 's', events)
    else:
        if made:
            _remove_empty(events)
        found = ('no client event (no HTTP call from a Python program '
                 'that can import global_reqid)')
    _say('%s: %s; %s %s' % (global_id, found, os.path.basename(command[0]),
                            _ended(returncode)))
    if count:
        _say('see the trace: global-reqid-trace %s --events %s'
             % (global_id, events))
    # A shell's status: 128+N when signal N ended the command.
    return 128 - returncode if returncode < 0 else returncode


def _ended(returncode):
    if returncode >= 0:
        return 'exited with %d' % returncode
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = 'signal %d' % -returncode
    return 'ended by %s (status %d)' % (name, 128 - returncode)


if __name__ == '__main__':
    sys.exit(main())
