"""Small adapters between the services and AWS. boto3 stays here; the domain never sees it."""
