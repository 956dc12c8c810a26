"""The small cloud of ``global-reqid-trace demo``: stand-ins, not OpenStack."""
