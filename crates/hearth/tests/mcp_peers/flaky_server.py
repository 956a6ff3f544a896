"""A small MCP server on the official Python SDK, for Hearth's client tests: `pid` tells
which process answers, `die` kills it mid-call, `sleep` outlasts a call timeout.
Usage: flaky_server.py            (stdio)
       flaky_server.py --http PORT (streamable HTTP on 127.0.0.1:PORT/mcp)"""

import os
import sys
import time

from mcp.server.mcpserver import MCPServer

app = MCPServer("flaky")


@app.tool()
def pid() -> str:
    """Return the server's process id."""
    return f"pid {os.getpid()}"


@app.tool()
def die() -> str:
    """Exit the server process at once, without answering."""
    sys.stderr.write("flaky: dying on purpose\n")
    sys.stderr.flush()
    os._exit(3)


@app.tool()
def sleep(seconds: float) -> str:
    """Sleep, then answer."""
    time.sleep(seconds)
    return "slept"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        app.run()
