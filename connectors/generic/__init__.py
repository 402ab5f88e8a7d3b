"""shopwatch's own JSON shop API (SPEC §5), also spoken by the built-in simulator."""
