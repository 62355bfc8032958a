"""Version 1 of the HTTP API: thin blueprints that parse, call one service and dump."""
