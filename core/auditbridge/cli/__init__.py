"""The ``auditbridge`` command line. Not on the Lambda path."""
