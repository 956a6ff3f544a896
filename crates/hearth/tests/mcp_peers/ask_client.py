"""An independent MCP client (the official Python SDK) driving `hearth mcp serve`: lists
the tools, calls `ask`, writes a memory and searches for it, and prints what it got as
one JSON line.
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
            wrote = await session.call_tool("memory_write", {"text": "The spare key is under the blue flowerpot."})
            found = await session.call_tool("memory_search", {"query": "where is the spare key"})
            found_text = "".join(b.text for b in found.content if getattr(b, "text", None) is not None)
            print(json.dumps({
                "server": info.server_info.name if info.server_info else None,
                "tools": [tool.name for tool in tools.tools],
                "is_error": bool(result.is_error),
                "text": texts,
                "structured": result.structured_content,
                "memory_write_error": bool(wrote.is_error),
                "memory_search": found_text,
            }))


asyncio.run(main())
