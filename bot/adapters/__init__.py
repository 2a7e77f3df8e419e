"""Platform adapters: translate platform events into core calls and replies into platform messages."""
