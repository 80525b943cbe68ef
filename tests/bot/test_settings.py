"""Settings: read once from a mapping, every problem named in one error, secrets kept out of repr."""

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_env


def test_defaults_follow_the_design():
    settings = Settings.from_env({})
    assert settings.gemini_model == "gemini-nano-banana-2.1"
    assert settings.gemini_api_version == "v1beta"
    assert settings.db_path == Path("data/bot.db")
    assert (settings.port, settings.max_concurrency, settings.history_turns) == (3000, 4, 6)
    assert settings.platforms == ()


def test_values_are_read_and_aliases_resolved():
    settings = Settings.from_env({
        "GOOGLE_API_KEY": "k", "GEMINI_MODEL": "pro", "DISCORD_TOKEN": "d", "DISCORD_GUILD_IDS": "1, 2",
        "SLACK_BOT_TOKEN": "xoxb-1", "GEMINI_MAX_CONCURRENCY": "2", "BOT_HISTORY_TURNS": "3",
        "GEMINI_BASE_URL": "http://127.0.0.1:9/gemini",
    })
    assert settings.gemini_api_key == "k" and settings.gemini_model == "gemini-3-pro-image"
    assert settings.discord_guild_ids == (1, 2) and settings.platforms == ("discord", "slack")
    assert (settings.max_concurrency, settings.history_turns) == (2, 3)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"PORT": "http", "GEMINI_MAX_CONCURRENCY": "0", "GEMINI_MODEL": "dalle",
                           "SLACK_BOT_TOKEN": "xoxp-user", "DISCORD_API_BASE": "discord.com", "DISCORD_GUILD_IDS": "a"})
    text = str(info.value)
    for name in ("PORT", "GEMINI_MAX_CONCURRENCY", "GEMINI_MODEL", "SLACK_BOT_TOKEN", "DISCORD_API_BASE",
                 "DISCORD_GUILD_IDS"):
        assert name in text
    assert len(info.value.problems) == 6


def test_require_names_what_the_command_needs():
    settings = Settings.from_env({})
    with pytest.raises(SettingsError) as info:
        settings.require(offline=False, platforms=("discord", "slack"))
    assert [p.split()[0] for p in info.value.problems] == ["GEMINI_API_KEY", "DISCORD_TOKEN", "SLACK_BOT_TOKEN", "set"]
    settings.require(offline=True, platforms=("console",))


def test_secrets_never_appear_in_repr():
    settings = Settings.from_env({"GEMINI_API_KEY": "sekrit-1", "DISCORD_TOKEN": "sekrit-2",
                                  "SLACK_BOT_TOKEN": "xoxb-sekrit-3", "SLACK_SIGNING_SECRET": "sekrit-4"})
    assert "sekrit" not in repr(settings)


def test_dotenv_is_read_and_the_environment_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("GEMINI_MODEL=pro\nPORT=4000\n")
    values = load_env({"PORT": "5000"}, dotenv)
    assert values == {"GEMINI_MODEL": "pro", "PORT": "5000"}
    assert load_env({"A": "1"}, tmp_path / "missing.env") == {"A": "1"}


def test_a_database_url_wins_over_the_sqlite_path_and_shards_are_checked():
    settings = Settings.from_env({"BOT_DB_PATH": "x.db", "BOT_DATABASE_URL": "postgresql://bot:pw@db/bot",
                                  "DISCORD_SHARD_COUNT": "4", "DISCORD_SHARD_IDS": "2, 3"})
    assert settings.database == "postgresql://bot:pw@db/bot" and "pw" not in repr(settings)
    assert (settings.discord_shard_count, settings.discord_shard_ids) == (4, (2, 3))
    assert Settings.from_env({"BOT_DB_PATH": "x.db"}).database == "x.db"
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"BOT_DATABASE_URL": "mysql://db/bot", "DISCORD_SHARD_IDS": "0"})
    first, second = error.value.problems
    assert first.startswith("BOT_DATABASE_URL: 'mysql'") and second.startswith("DISCORD_SHARD_IDS needs DISCORD_SHARD")
    with pytest.raises(SettingsError, match="from 0 to 1"):
        Settings.from_env({"DISCORD_SHARD_COUNT": "2", "DISCORD_SHARD_IDS": "0,2"})


def test_search_grounding_can_be_turned_off():
    assert Settings.from_env({}).search is True
    assert Settings.from_env({"BOT_SEARCH": "off"}).search is False
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"BOT_SEARCH": "sometimes"})
    assert "BOT_SEARCH" in str(info.value)
