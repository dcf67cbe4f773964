"""The local API gateway: what API Gateway's HTTP API and its JWT authorizer do, for a laptop."""
