"""Who is calling: the `Caller`, its FastAPI dependencies and the credential lookups."""
