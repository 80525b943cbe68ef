"""What the Slack adapter needs from the operator: built by the composition root (`bot/app.py`) from Settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SlackConfig:
    """`app_token`: Socket Mode; `signing_secret`: HTTP mode on `port`; `api_url`: a Web API base other than Slack's
    (SLACK_API_URL); `shutdown_grace_s`: how long answers in flight may go on posting once told to stop."""

    bot_token: str = field(repr=False)
    app_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    api_url: str | None = None
    port: int = 3000
    shutdown_grace_s: float = 30.0
