"""The console: the people's pages (SPEC §8), served by the daemon under ``/``.

:class:`~daemon.console.pages.Console` adds them to the daemon's app; :mod:`access` says who
sees and may do what; :mod:`sessions` signs people in.
"""
