"""Scheduled digests: per-channel subscriptions that arrive on time, once, across restarts (docs/digests.md).

Platform-neutral like the core: `schedule` parses and times, `subscriptions` backs `/digest`, `content` composes,
`store` persists, `service` schedules and delivers through each platform's `sender.DigestSender`. Modules here
import the core's replies, never the core's commands (which import this package lazily).
"""
