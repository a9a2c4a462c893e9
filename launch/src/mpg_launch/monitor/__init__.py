"""``mpg-launch monitor run|schedule|list|delete``: the kit's model monitor (drift and quality
of an endpoint's captured traffic, the processing image's ``monitor`` command), run now, on a
schedule (EventBridge Scheduler), with CloudWatch alarms on its metrics.

Roles, as every launcher package: :mod:`.settings` (the ``[monitor]`` keys and flags),
:mod:`.requests` (pure request builders), :mod:`.checks` (validation before anything is sent)
and :mod:`.run` (observe, plan, apply)."""
