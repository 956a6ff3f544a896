"""An independent MCP client (the official Python SDK) driving `hearth mcp serve`: lists
the tools, calls `ask`, and prints what it got as one JSON line.
Usage: ask_client.py HEARTH_BINARY PROMPT   (environment passed through to hearth)"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main() -> None:
    hearth, prompt = sys.argv[1], sys.argv[2]
    params = StdioServerParameters(command=hearth, args=["mcp", "serve"], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            info = await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool("ask", {"prompt": prompt})
            texts = [block.text for block in result.content if getattr(block, "text", None) is not None]
            print(json.dumps({
                "server": info.server_info.name if info.server_info else None,
                "tools": [tool.name for tool in tools.tools],
                "is_error": bool(result.is_error),
                "text": texts,
                "structured": result.structured_content,
            }))


asyncio.run(main())
