"""The local lake: an embedded DuckDB stand-in for CloudTrail Lake (extra ``auditbridge[lake]``).

Never imported on the Lambda path.
"""
