"""An endpoint's whole life: settings (deploy, autoscaling, serverless, async, rollout), the
requests, and the commands that deploy, scale, roll out, invoke and delete it."""
