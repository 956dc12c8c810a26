"""The installed version of global_reqid."""

from importlib import metadata


def version_string():
    """Return the installed distribution's version, or ``unknown``."""
    try:
        return metadata.version('global_reqid')
    except metadata.PackageNotFoundError:
        return 'unknown'
