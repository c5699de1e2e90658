"""API plumbing shared by every app: errors, shared shapes, input reading, pagination, rate
limits (throttling) and the service views."""
