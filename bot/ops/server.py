"""`/healthz`, `/readyz` and `/metrics` on a small aiohttp server (BRIEFBOT_OPS_PORT), for orchestrators and
Prometheus. Alive means the event loop answers; ready means the store answers, the index is loaded, every
configured platform adapter is connected to its platform, and the scheduler role is known."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.core import BriefingBot

log = logging.getLogger(__name__)


class OpsServer:
    """`platforms()` says which configured adapters are connected; `scheduler()` is this process's role
    ("leader" when it runs the digest and feed scheduler, "follower" otherwise)."""

    def __init__(
        self,
        bot: BriefingBot,
        host: str,
        port: int,
        *,
        platforms: Callable[[], dict[str, bool]] = dict,
        scheduler: Callable[[], str] = lambda: "leader",
    ) -> None:
        self.bot = bot
        self.host = host
        self.port = port
        self._platforms = platforms
        self._scheduler = scheduler
        self._runner: web.AppRunner | None = None
        self.app = web.Application()
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/readyz", self._readyz)
        self.app.router.add_get("/metrics", self._metrics)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []  # the bound port, when 0 was asked for
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("ops endpoints on http://%s:%d (/healthz, /readyz, /metrics)", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _: web.Request) -> web.Response:
        checks: dict[str, Any] = {"store": await asyncio.to_thread(self._store_ok)}
        checks["index"] = bool(self.bot.engine.fingerprint)
        checks["platforms"] = self._platforms()
        checks["scheduler"] = self._scheduler()
        ready = checks["store"] and checks["index"] and all(checks["platforms"].values())
        return web.Response(
            text=json.dumps({"ready": ready, **checks}) + "\n",
            status=200 if ready else 503,
            content_type="application/json",
        )

    async def _metrics(self, _: web.Request) -> web.Response:
        self.bot.metrics.articles.set(len(self.bot.engine.articles))
        body = self.bot.metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def _store_ok(self) -> bool:
        try:
            with self.bot.store.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            log.warning("readyz: the store is not reachable: %s", type(exc).__name__)
            return False
        return True
