"""The composition root builds each adapter's own config from Settings, and says what is missing before starting."""

from __future__ import annotations

import pytest

from adapters.discord.config import DiscordConfig
from adapters.slack.config import SlackConfig
from bot.app import discord_config, slack_config
from bot.settings import Settings, SettingsError


def test_each_adapter_gets_only_its_own_settings_and_the_configured_grace() -> None:
    settings = Settings.from_env({
        "DISCORD_TOKEN": "d-token", "DISCORD_GUILD_IDS": "1,2", "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
        "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "PORT": "3100", "BOT_SHUTDOWN_GRACE": "12",
    })
    assert discord_config(settings) == DiscordConfig(
        token="d-token", guild_ids=(1, 2), api_base="http://127.0.0.1:9/api/v10", shutdown_grace_s=12.0
    )
    assert slack_config(settings) == SlackConfig(
        bot_token="xoxb-1", app_token="xapp-1", api_url="http://127.0.0.1:9/api/", port=3100, shutdown_grace_s=12.0
    )


def test_missing_credentials_are_named_before_anything_starts() -> None:
    with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
        discord_config(Settings())
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN"):
        slack_config(Settings())
    socket_only = Settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1")
    assert slack_config(socket_only).app_token == "xapp-1"
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET"):
        slack_config(socket_only, http=True)  # --http wins over the app token, and needs the secret
