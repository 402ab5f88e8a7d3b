"""The built-in simulated shop: an aiohttp app speaking the generic shop API (SPEC §5),
backed by an in-memory :class:`~daemon.simulator.world.World` and a living scenario."""
