"""Open311 GeoReport v2: the open standard through which outside apps list the centre's
services and report and follow problems (``/open311/v2/``, discovery at
``/open311/discovery.{json,xml}``). ``formats`` writes JSON and XML as the specification
shows them, ``mapping`` turns categories and cases into services and service requests,
``requests`` parses and checks what clients send, ``routes`` serves it all."""
