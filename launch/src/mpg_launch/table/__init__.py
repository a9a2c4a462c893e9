"""The user's table: its schema file, its task and the splits uploaded to S3."""
