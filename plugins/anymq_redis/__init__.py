"""``redis://``: anymq on Redis Streams (redis-py's asyncio client)."""
