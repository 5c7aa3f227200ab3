"""Deciding what subscribers are told (SPEC §8): pure where possible.

``settle`` (a verdict counts once it has held ``notify_hold`` seconds), ``batch`` (changes
settling close together make one event), ``incidents`` (incident and maintenance events),
``catalog``, ``wording`` and ``messages`` (what a webhook, a Slack channel or an email says,
in English and Russian) and ``planner`` (the one task that decides and records events through the
store; the senders in ``statusd.deliver`` act on what it recorded).
"""
