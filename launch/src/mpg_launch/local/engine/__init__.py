"""The local double's engine: it does the work (containers, S3 staging, jobs, serving,
transform, tuning, rollout, pipeline runs) that the clients in :mod:`..clients` ask for."""
