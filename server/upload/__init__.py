"""Publisher uploads: the API and page that take a file, check it is safe, and queue its ingest."""
