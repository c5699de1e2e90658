"""API plumbing shared by every app: errors, shared shapes, input reading, pagination, service views."""
