"""Where events are written by default, without importing oslo.config.

``global-reqid-trace`` reads these on every run and must start fast;
:mod:`global_reqid.opts` re-exports them for the option defaults.
"""

#: The ``event_dir`` default when neither the option nor the environment
#: variable is set.
DEFAULT_EVENT_DIR = '/var/log/global-reqid'

#: Environment variable that, when set, is the default ``event_dir`` (and
#: the default events source of ``global-reqid-trace``).
EVENT_DIR_ENV = 'GLOBAL_REQID_EVENTS'
