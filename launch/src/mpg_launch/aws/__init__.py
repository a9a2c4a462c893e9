"""Talking to AWS: the clients, the service-model validator (with the service's own rules for
a transform's filters), the refusing dry-run client, the waiters and log tailer, and the
names of S3 keys, jobs and scalable targets."""
