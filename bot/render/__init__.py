"""Pure renderers: a neutral `Reply` in, a platform's message out. No I/O here."""
