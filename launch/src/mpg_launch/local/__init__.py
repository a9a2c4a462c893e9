"""``--local``: the very same request dicts, run on the local Docker engine, built the way
moto is, in three layers:

- :mod:`.clients`: the boto3-shaped surface (``sagemaker``, ``sagemaker-runtime``,
  ``cloudwatch``): requests in, botocore shapes and ``ClientError`` out;
- :mod:`.engine`: the work (containers, S3 staging, jobs, serving, transform, tuning, rollout,
  pipeline runs);
- :mod:`.state`: what the double remembers between CLI invocations.

The launcher picks these clients in one place (:mod:`mpg_launch.cli.clients`) and cannot
otherwise tell them from AWS.
"""
