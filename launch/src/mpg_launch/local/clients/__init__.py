"""The local double's surface: boto3-shaped clients that take the very requests AWS takes
and answer as AWS does (ClientError, Describe shapes)."""
