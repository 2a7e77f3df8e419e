"""Scheduled digests: per-channel subscriptions that arrive on time, once, across restarts (docs/digests.md).

Platform-neutral like the core: `schedule` parses and times, `subscriptions` backs `/digest`, `content` composes,
`store` persists, `service` schedules and delivers through each platform's `sender.DigestSender`. Nothing here
imports bot.core: the core builds on this package (its commands and the bot own the subscriptions), and the
service asks only for the parts it uses (`service.Served`). Replies come from the neutral bot.replies.
"""
