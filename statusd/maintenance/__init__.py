"""Planned maintenance (SPEC §9): the windows file, who is under maintenance when, and the
documents and events that tell customers (calendar, Statuspage objects, notifications).

Modules: ``windows`` (format, validation, scope and time), ``file`` (load, edit, reload),
``revisions`` (when each window was created and last changed), ``calendar`` (``.ics``),
``statuspage`` (``scheduled_maintenances``), ``events`` (announced, started, completed) and
``cli`` (``statusd maintenance add|list|remove``).
"""
