"""Launchers for the Auto MPG SageMaker images: push them to ECR and run every stage on
SageMaker, or run the very same requests on the local Docker engine (``--local``)."""
