"""Implementation of the SGLang simulator (asyncio HTTP server, scheduler, radix cache, faults)."""
