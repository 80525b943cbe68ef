"""A real discord.py client against the fake Discord in tests/emulators/discord.py."""

from __future__ import annotations

import asyncio
import io

import discord
import pytest
from discord import app_commands
from discord.http import Route
from PIL import Image

from tests.emulators.discord import DiscordEmulator
from tests.scenarios.discord.harness import EmuClient, Start
from tests.support import until

pytestmark = pytest.mark.timeout(30)


def png(size: tuple[int, int] = (4, 3)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(buf, "PNG")
    return buf.getvalue()


async def test_client_logs_in_and_caches_the_guild(discord_emu: DiscordEmulator, start_client: Start) -> None:
    client = await start_client(EmuClient())

    assert client.user is not None and client.user.id == int(discord_emu.bot_user["id"])
    assert client.application_id == int(discord_emu.application_id)
    guild = client.get_guild(int(discord_emu.guild_id))
    assert guild is not None and guild.name == "Emulated Guild"
    assert isinstance(guild.get_channel(int(discord_emu.channel_id)), discord.TextChannel)
    assert guild.me.guild_permissions.create_public_threads and not guild.me.guild_permissions.manage_messages
    assert guild.filesize_limit == 10 * 1024 * 1024
    assert discord_emu.identifies[0]["intents"] == client.intents.value
    assert discord_emu.gateway_queries[0]["v"] == "10" and discord_emu.heartbeats >= 1
    assert [r.path for r in discord_emu.requests[:2]] == ["/users/@me", "/oauth2/applications/@me"]


async def test_slash_command_syncs_defers_and_follows_up_with_a_file(
    discord_emu: DiscordEmulator, start_client: Start
) -> None:
    client = EmuClient()
    seen: dict[str, object] = {}
    result = png((8, 6))

    @client.tree.command(name="imagine", description="Generate an image")
    @app_commands.describe(prompt="What to draw", image="Optional input image")
    async def imagine(interaction: discord.Interaction, prompt: str, image: discord.Attachment | None = None) -> None:
        await interaction.response.defer(thinking=True)
        seen["source"] = await image.read() if image else None
        seen["prompt"] = prompt
        seen["filesize_limit"] = interaction.filesize_limit
        seen["manage_messages"] = interaction.permissions.manage_messages
        seen["channel"] = interaction.channel
        await interaction.followup.send(f"done: {prompt}", file=discord.File(io.BytesIO(result), "gen.png"))

    await start_client(client)
    (command,) = discord_emu.global_commands
    assert command["name"] == "imagine"
    assert [(o["name"], o["type"], o["required"]) for o in command["options"]] == [
        ("prompt", 3, True),
        ("image", 11, False),
    ]

    source = discord_emu.add_attachment(b"source-bytes", "src.png", content_type="image/png")
    rec = await discord_emu.invoke_slash("imagine", {"prompt": "a cat", "image": source}, user=discord_emu.moderator)
    await until(lambda: rec.followup_message_ids, what="the followup")

    assert rec.callback_types == [5]
    message = discord_emu.messages[rec.followup_message_ids[0]]
    assert message["id"] == rec.original_message_id  # the first followup resolved the "thinking" message
    assert message["content"] == "done: a cat" and message["flags"] == 0
    (stored,) = discord_emu.message_files(message["id"])
    assert (stored.data, stored.filename, stored.content_type, stored.width) == (result, "gen.png", "image/png", 8)
    assert seen["source"] == b"source-bytes" and seen["prompt"] == "a cat"
    assert seen["filesize_limit"] == discord_emu.upload_limit and seen["manage_messages"] is True
    assert isinstance(seen["channel"], discord.TextChannel)
    assert [r.url for r in discord_emu.cdn_requests] == [source["url"]] and discord_emu.cdn_requests[
        0
    ].authorization is None

    plain = await discord_emu.invoke_slash("imagine", {"prompt": "a dog"})  # alice: no Manage Messages
    await until(lambda: plain.followup_message_ids)
    assert seen["manage_messages"] is False and seen["source"] is None


async def test_messages_reach_on_message_with_cdn_attachments_and_replies(
    discord_emu: DiscordEmulator, start_client: Start
) -> None:
    client = await start_client(EmuClient())
    first = await discord_emu.send_message(
        discord_emu.channel_id, discord_emu.user, "look", attachments=[discord_emu.add_attachment(png(), "a.png")]
    )
    bot_mention = discord_emu.mention(discord_emu.bot_user)
    reply = await discord_emu.send_message(
        discord_emu.channel_id, discord_emu.user, f"{bot_mention} make it blue", referenced_message_id=first["id"]
    )
    await until(lambda: len(client.received) == 2)

    original, edit = client.received
    assert original.id == int(first["id"]) and isinstance(original.channel, discord.TextChannel)
    assert [await a.read() for a in original.attachments] == [png()]
    assert original.attachments[0].content_type == "image/png" and original.attachments[0].width == 4
    assert client.user is not None and client.user.mentioned_in(edit) and edit.id == int(reply["id"])
    assert edit.reference is not None and isinstance(edit.reference.resolved, discord.Message)
    assert edit.reference.resolved.attachments[0].filename == "a.png"
    assert isinstance(edit.author, discord.Member) and edit.author.id == int(discord_emu.user["id"])
    fetched = await original.channel.fetch_message(original.id)
    assert fetched.attachments[0].url == first["attachments"][0]["url"]


async def test_message_content_intent_is_enforced(discord_emu: DiscordEmulator, start_client: Start) -> None:
    client = await start_client(EmuClient(message_content=False))
    await discord_emu.send_message(content="hidden", attachments=[discord_emu.add_attachment(b"x", "x.png")])
    await discord_emu.send_message(content=f"{discord_emu.mention(discord_emu.bot_user)} visible")
    dm = discord_emu.open_dm(discord_emu.user)
    await discord_emu.send_message(dm, discord_emu.user, "in a dm")
    await until(lambda: len(client.received) == 3)

    hidden, mentioned, direct = client.received
    assert (hidden.content, hidden.attachments) == ("", [])
    assert mentioned.content.endswith("visible") and direct.content == "in a dm"
    assert isinstance(direct.channel, discord.DMChannel) and direct.guild is None


async def test_buttons_on_an_old_message_reach_a_persistent_view_after_restart(
    discord_emu: DiscordEmulator, start_client: Start
) -> None:
    clicks: list[int] = []

    class Buttons(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Reroll", custom_id="reroll", style=discord.ButtonStyle.primary)
        async def reroll(self, interaction: discord.Interaction, button: discord.ui.Button[Buttons]) -> None:
            clicks.append(interaction.user.id)
            await interaction.response.edit_message(content="rerolled", view=self)

    first = await start_client(EmuClient())
    channel = first.get_channel(int(discord_emu.channel_id))
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("result", view=Buttons())
    await first.close()
    await until(lambda: not discord_emu.connected, what="the first client to disconnect")

    second = await start_client(EmuClient(views=(Buttons(),)))
    assert len(discord_emu.identifies) == 2 and second.get_guild(int(discord_emu.guild_id)) is not None
    rec = await discord_emu.click_button(str(sent.id), "reroll", user=discord_emu.moderator)
    await discord_emu.wait_for_callback(rec)

    assert clicks == [int(discord_emu.moderator["id"])] and rec.callback_types == [7]
    assert discord_emu.messages[str(sent.id)]["content"] == "rerolled"
    with pytest.raises(LookupError):
        await discord_emu.click_button(str(sent.id), "no-such-button")


async def test_modal_opened_by_a_command_receives_its_submission(
    discord_emu: DiscordEmulator, start_client: Start
) -> None:
    client = EmuClient()
    submitted: list[str] = []

    class Refine(discord.ui.Modal, title="Refine the image"):
        prompt: discord.ui.TextInput[Refine] = discord.ui.TextInput(label="New prompt", custom_id="prompt")

        async def on_submit(self, interaction: discord.Interaction) -> None:
            submitted.append(self.prompt.value)
            await interaction.response.send_message(f"refining: {self.prompt.value}", ephemeral=True)

    @client.tree.command(name="refine", description="Refine an image")
    async def refine(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Refine(custom_id="refine_modal"))

    await start_client(client)
    opened = await discord_emu.invoke_slash("refine")
    assert (await discord_emu.wait_for_callback(opened))["type"] == 9
    rec = await discord_emu.submit_modal("refine_modal", {"prompt": "make it purple"})
    await discord_emu.wait_for_callback(rec)

    assert submitted == ["make it purple"]
    assert rec.original_message_id is not None
    answer = discord_emu.messages[rec.original_message_id]
    assert answer["content"] == "refining: make it purple" and answer["flags"] & 64


async def test_threads_created_by_the_bot_are_recorded_and_usable(
    discord_emu: DiscordEmulator, start_client: Start
) -> None:
    client = await start_client(EmuClient())
    channel = client.get_channel(int(discord_emu.channel_id))
    assert isinstance(channel, discord.TextChannel)
    result = await channel.send("a cat", file=discord.File(io.BytesIO(png()), "cat.png"))
    thread = await result.create_thread(name="a cat")

    assert thread.id == result.id and discord_emu.threads[str(thread.id)]["parent_id"] == discord_emu.channel_id
    await until(lambda: client.get_channel(thread.id) is not None, what="THREAD_CREATE in the cache")
    await thread.send("reply in thread")
    assert [m["content"] for m in discord_emu.channel_messages(str(thread.id))] == ["reply in thread"]

    await discord_emu.send_message(str(thread.id), discord_emu.user, "next turn")
    await until(lambda: client.received)
    (turn,) = client.received
    assert isinstance(turn.channel, discord.Thread) and turn.channel.parent_id == channel.id
    assert turn.guild is not None and turn.guild.id == int(discord_emu.guild_id)

    loose = await channel.create_thread(name="no starter", type=discord.ChannelType.public_thread)
    assert discord_emu.threads[str(loose.id)]["type"] == 11
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.create_thread(name="x" * 101, type=discord.ChannelType.public_thread)
    assert (too_long.value.status, too_long.value.code) == (400, 50035)


async def test_uploads_over_the_limit_get_413(discord_emu: DiscordEmulator, start_client: Start) -> None:
    client = EmuClient()
    outcome: list[tuple[int, int]] = []

    @client.tree.command(name="big", description="Upload a file just over the interaction's limit")
    async def big(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        try:
            data = b"x" * (interaction.filesize_limit + 1)
            await interaction.followup.send(file=discord.File(io.BytesIO(data), "big.png"))
        except discord.HTTPException as e:
            outcome.append((e.status, e.code))
            await interaction.followup.send("too big")

    await start_client(client)
    channel = client.get_channel(int(discord_emu.channel_id))
    assert isinstance(channel, discord.TextChannel)
    discord_emu.upload_limit = 1000

    with pytest.raises(discord.HTTPException) as exc:
        await channel.send(file=discord.File(io.BytesIO(b"x" * 1001), "big.png"))
    assert (exc.value.status, exc.value.code) == (413, 40005)
    fits = await channel.send(file=discord.File(io.BytesIO(b"x" * 1000), "ok.png"))
    assert discord_emu.message_files(str(fits.id))[0].size == 1000

    rec = await discord_emu.invoke_slash("big", attachment_size_limit=500)
    await until(lambda: rec.followup_message_ids)
    assert outcome == [(413, 40005)] and discord_emu.messages[rec.followup_message_ids[0]]["content"] == "too big"


async def test_message_command_and_dm_slash_command(discord_emu: DiscordEmulator, start_client: Start) -> None:
    client = EmuClient()
    targets: list[discord.Message] = []

    @client.tree.context_menu(name="Edit image")
    async def edit_image(interaction: discord.Interaction, message: discord.Message) -> None:
        targets.append(message)
        await interaction.response.send_message("editing", ephemeral=True)

    @client.tree.command(name="ping", description="Ping")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"pong {interaction.guild_id}")

    await start_client(client)
    source = await discord_emu.send_message(content="src", attachments=[discord_emu.add_attachment(png(), "src.png")])
    rec = await discord_emu.invoke_message_command("Edit image", source["id"])
    await discord_emu.wait_for_callback(rec)
    assert [m.id for m in targets] == [int(source["id"])] and targets[0].attachments[0].filename == "src.png"

    dm = await discord_emu.invoke_slash("ping", channel_id=discord_emu.open_dm(discord_emu.user))
    await discord_emu.wait_for_callback(dm)
    assert dm.original_message_id is not None
    assert discord_emu.messages[dm.original_message_id]["content"] == "pong None"


async def test_resume_after_reconnect_request_replays_nothing_lost(
    discord_emu: DiscordEmulator, start_client: Start
) -> None:
    client = await start_client(EmuClient())
    await discord_emu.request_reconnect()
    await asyncio.wait_for(client.resumed.wait(), 5)
    assert len(discord_emu.resumes) == 1 and len(discord_emu.identifies) == 1

    await discord_emu.send_message(content="after resume")
    await until(lambda: client.received)
    assert client.received[0].content == "after resume"


async def test_rate_limits_faults_and_unknown_routes(discord_emu: DiscordEmulator, start_client: Start) -> None:
    client = await start_client(EmuClient())
    channel = client.get_channel(int(discord_emu.channel_id))
    assert isinstance(channel, discord.TextChannel)

    discord_emu.rate_limit_next("POST", r"/channels/\d+/messages", retry_after=0.05)
    await channel.send("retried")
    assert [r.status for r in discord_emu.requests_to("POST", rf"/channels/{discord_emu.channel_id}/messages")] == [
        429,
        200,
    ]

    discord_emu.fail_next("POST", r"/channels/\d+/messages", status=403, code=50013, message="Missing Permissions")
    with pytest.raises(discord.Forbidden):
        await channel.send("denied")

    with pytest.raises(discord.NotFound):
        await client.http.request(Route("GET", "/no/such/route"))
    assert [r.path for r in discord_emu.unknown_requests] == ["/no/such/route"]
