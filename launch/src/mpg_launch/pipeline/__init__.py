"""A SageMaker Pipeline built from the same :class:`~mpg_launch.settings.config.LaunchConfig` as the
single-stage commands, with boto3 only (no SDK at run time).

- :mod:`.format`: the definition format, read into typed objects (the checker and the local
  engine both read through it); ``Get``, ``Std:Join`` and ``Std:JsonGet`` as SageMaker spells them;
- :mod:`.parameters`: the pipeline parameters and ``-P NAME=VALUE`` overrides;
- :mod:`.definition`: the definition: each job step's ``Arguments`` is the request the
  single-stage command builds (:mod:`mpg_launch.jobs.requests`), parameters substituted;
- :mod:`.checks`: :func:`~.checks.check_definition`, run before anything is sent;
- :mod:`.runs`: upsert, start, follow and list against ``clients.sagemaker``.
"""
