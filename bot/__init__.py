"""briefbot's chat runtime: core commands, renderers, platform adapters, storage and the CLI."""
