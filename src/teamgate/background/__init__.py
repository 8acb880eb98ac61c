"""Background tasks: starting and stopping the long-lived asyncio tasks of a gateway."""
