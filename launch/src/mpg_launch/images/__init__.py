"""Our images on a registry: the Docker CLI and the push to ECR (or another Docker registry)."""
