"""Request and response schemas (pydantic): shared by handlers, services and OpenAPI."""
