"""Blob Storage for job data: upload (the entry point), clients, errors, locations, local_files, redaction."""
