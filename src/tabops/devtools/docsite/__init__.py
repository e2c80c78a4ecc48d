"""The docs site's generated pages: the references rendered from the code at build time (the
CLI from the Typer app, ``tabops.yaml`` from the spec's pydantic models, the HTTP API from the
server's OpenAPI document), so they cannot drift from it. :mod:`.hooks` adds them to mkdocs;
nothing generated is committed."""
