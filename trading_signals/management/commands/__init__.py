"""`makemigrations_mongo`."""
