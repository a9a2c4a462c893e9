"""``--local``: the very same request dicts, run on the local Docker engine.

:mod:`~mpg_launch.local.sagemaker` holds the stand-ins for the ``sagemaker`` and
``sagemaker-runtime`` clients (and :func:`~mpg_launch.local.sagemaker.local_clients`, which
the CLI calls); :mod:`~mpg_launch.local.jobs`, :mod:`~mpg_launch.local.serving` and
:mod:`~mpg_launch.local.transform` run the containers of each kind of job, on
:mod:`~mpg_launch.local.containers`; :mod:`~mpg_launch.local.staging` moves files to and from
S3; :mod:`~mpg_launch.local.state` remembers resources between CLI invocations.
"""
