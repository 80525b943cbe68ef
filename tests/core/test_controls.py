"""The seeds' controls through the engine and the real google-genai client, on both API paths: search grounding,
thinking and thoughts, styles and exclusions, and server and channel defaults."""

import pytest

from core import styles
from core.budget import Accountant, Limits
from core.costs import Prices
from core.engine import Engine, EngineConfig
from core.events import (
    ChangeSetting,
    EditImages,
    ImageInput,
    ListStyles,
    NextTurn,
    Options,
    Reroll,
    ShowSettings,
    ShowThoughts,
    StartThread,
    ThreadKey,
    User,
)
from core.failures import Forbidden, UnsupportedOption
from core.grounding import GOOGLE_SEARCH
from core.options import parse_flags
from tests import pictures

KEY = ThreadKey("discord", "g1", "c1", "t1")
OTHER_CHANNEL = ThreadKey("discord", "g1", "c2", "t9")
ALICE = User("alice")
ADMIN = User("boss", is_admin=True)


@pytest.fixture(params=["interactions", "generate_content"])
def gemini_api(request) -> str:
    return request.param


def start(prompt: str, key: ThreadKey = KEY, images=()) -> StartThread:
    text, options = parse_flags(prompt)
    return StartThread(key, ALICE, text, tuple(images), options)


async def test_search_sends_the_tool_and_shows_queries_and_sources(engine, gemini):
    reply = await engine.handle(start("today's weather in Oslo --search"))
    assert reply.ok, reply.failure
    assert gemini.requests[-1].search == ("web",)
    assert reply.grounding is not None
    [(query, url)] = reply.grounding.query_links()
    assert query == "today's weather in Oslo" and url == GOOGLE_SEARCH + "today%27s+weather+in+Oslo"
    assert reply.grounding.source_links()[0][1].startswith("https://example.org/pages/")
    assert "search" in reply.options.describe()
    text, flags = parse_flags("as a bar chart --style flat")
    later = await engine.handle(NextTurn(KEY, ALICE, text, options=flags))
    assert later.ok and gemini.requests[-1].search == ("web",)  # kept with the thread
    assert later.options.style == "flat-illustration"
    off = await engine.handle(NextTurn(KEY, ALICE, "in blue", options=Options(search="off")))
    assert off.ok and gemini.requests[-1].search == () and off.grounding is None
    assert (await engine.thread_options(KEY)).style == "flat-illustration"


async def test_image_search_shows_the_containing_page_never_the_image_file(engine, gemini):
    reply = await engine.handle(start("a Timareta butterfly --search images --model flash-3.1"))
    assert reply.ok, reply.failure
    assert gemini.requests[-1].search == ("web", "images")
    urls = [url for _, url in reply.grounding.source_links()]
    assert any(url.startswith("https://example.net/gallery/") for url in urls)
    assert not any("img.example.net" in url for url in urls)
    assert len(reply.grounding.query_links()) == 2


async def test_without_search_no_tool_is_sent_and_nothing_is_shown(engine, gemini):
    reply = await engine.handle(start("a fox"))
    assert reply.ok and reply.grounding is None and gemini.requests[-1].search == ()


@pytest.mark.parametrize("flags,needle", [
    ("--search --model lite", "has no Google Search grounding. --search works with: gemini-nano-banana-2.1"),
    ("--search images --model pro", "--search images works with: gemini-3.1-flash-image"),
    ("--think high --model pro", "has no thinking levels. --think works with: gemini-nano-banana-2.1"),
    ("--thoughts --model flash-2.5", "does not think"),
])
async def test_unsupported_controls_are_refused_by_name_before_gemini_is_called(engine, gemini, flags, needle):
    reply = await engine.handle(start(f"a fox {flags}"))
    assert isinstance(reply.failure, UnsupportedOption) and needle in reply.failure.message
    assert gemini.requests == []


async def test_operator_can_turn_search_off(store, model, gemini):
    engine = Engine(store, model, EngineConfig(search_enabled=False))
    reply = await engine.handle(start("the weather --search"))
    assert "BOT_SEARCH=off" in reply.failure.message and gemini.requests == []


@pytest.mark.parametrize("free,extra", [(0, 0.014), (5_000, 0.0)])
async def test_search_queries_are_counted_and_priced_past_the_free_allowance(store, model, free, extra):
    accountant = Accountant(store, Limits(), Prices(search_free_per_month=free))
    engine = Engine(store, model, EngineConfig(), accountant=accountant)
    assert (await engine.handle(start("a fox"))).ok
    assert (await engine.handle(start("a fox --search", key=OTHER_CHANNEL))).ok
    plain, searched = [row[7] for row in await store.usage_rows("discord", "g1")]
    assert searched - plain == pytest.approx(extra, abs=1e-6)
    assert await store.search_queries_since(0) == 1


async def test_thinking_level_is_sent_only_where_the_model_has_levels(engine, gemini):
    assert (await engine.handle(start("a city in a bottle --think high"))).ok
    assert gemini.requests[-1].thinking_level == "high"
    assert (await engine.handle(start("a city in a bottle --model pro", key=OTHER_CHANNEL))).ok
    assert gemini.requests[-1].thinking_level is None and not gemini.requests[-1].include_thoughts


async def test_thoughts_are_shown_apart_and_never_the_result(engine, gemini, store):
    reply = await engine.handle(start("a city in a bottle --thoughts --model pro"))
    assert reply.ok and gemini.requests[-1].include_thoughts
    assert len(reply.images) == 1 and len(reply.thought_images) == 2
    assert reply.images[0].data not in {t.data for t in reply.thought_images}
    assert pictures.size_of(reply.images[0].data) == (1024, 1024)
    assert any("composition" in t for t in reply.thoughts)
    # history keeps every thought part as Gemini sent it; the next turn refines the final image only
    stored = await store.turn_response(reply.turn_id)
    assert sum(1 for p in stored["parts"] if p.get("thought") and "inline_data" in p) == 2
    refined = await engine.handle(NextTurn(KEY, ALICE, "make it night"))
    assert refined.ok and gemini.requests[-1].previous_image == reply.images[0].data
    assert refined.options.thoughts is True  # inherited by later turns
    shown = await engine.handle(ShowThoughts(reply.turn_id, User("bob")))
    assert shown.thoughts == reply.thoughts and len(shown.thought_images) == 2
    quiet = await engine.handle(NextTurn(KEY, ALICE, "add stars", options=parse_flags("x --thoughts off")[1]))
    assert quiet.ok and quiet.thoughts == () and not gemini.requests[-1].include_thoughts


async def test_reroll_and_upscale_use_the_final_image(engine, gemini):
    reply = await engine.handle(start("a city in a bottle --thoughts --model pro"))
    upscaled = await engine.handle(Reroll(reply.turn_id, ALICE, image_size="2K"))
    assert upscaled.ok and gemini.requests[-1].previous_image == reply.images[0].data


@pytest.mark.parametrize("name", styles.names())
async def test_each_style_preset_reaches_gemini(engine, gemini, name):
    reply = await engine.handle(start(f"a harbour at dawn --style {name}"))
    assert reply.ok and f"style {name}" in reply.options.describe()
    assert gemini.requests[-1].prompt == f"a harbour at dawn. Render it as {styles.STYLES[name]}."


async def test_style_on_an_edit_restyles_and_keeps_the_composition(engine, gemini):
    photo = ImageInput(pictures.png(64, 48, (10, 20, 30)), "city.png")
    reply = await engine.handle(EditImages(KEY, ALICE, "my city", (photo,), Options(style="oil-painting")))
    assert reply.ok
    assert "Restyle the image as an oil painting" in gemini.requests[-1].prompt
    assert "Preserve the original composition" in gemini.requests[-1].prompt
    await engine.handle(NextTurn(KEY, ALICE, "now as a comic", options=Options(style="comic")))
    assert "Restyle the image as a comic book panel" in gemini.requests[-1].prompt


async def test_unknown_style_gets_the_list():
    with pytest.raises(UnsupportedOption) as info:
        parse_flags("a fox --style vaporwave")
    assert "watercolour" in info.value.message and "isometric" in info.value.message


async def test_exclusions_become_an_instruction_and_show_in_the_caption(engine, gemini):
    reply = await engine.handle(start("a busy street --no cars, people"))
    assert gemini.requests[-1].prompt.endswith(
        "Do not include any of the following anywhere in the image: cars, people.")
    assert "no cars, people" in reply.options.describe()


async def test_styles_lists_every_preset(engine):
    reply = await engine.handle(ListStyles(KEY, ALICE))
    assert len(reply.notices) >= 12 and reply.notices[0].startswith("photo: ")


async def test_settings_precedence_user_over_channel_over_server_over_bot(engine, gemini):
    for scope, name, value in [("server", "style", "watercolour"), ("server", "ar", "16:9"),
                               ("channel", "style", "comic"), ("server", "guidance", "Brand colours: teal.")]:
        assert (await engine.handle(ChangeSetting(KEY, ADMIN, scope, name, value))).ok
    channel = await engine.handle(start("a fox"))
    assert channel.options.style == "comic" and channel.options.aspect_ratio == "16:9"
    assert gemini.requests[-1].system_instruction == "Brand colours: teal."
    server = await engine.handle(start("a fox", key=OTHER_CHANNEL))
    assert server.options.style == "watercolour"
    mine = await engine.handle(start("a fox --style anime --ar 1:1"))
    assert (mine.options.style, mine.options.aspect_ratio) == ("anime", "1:1")
    await engine.handle(ChangeSetting(KEY, ADMIN, "server", "style", "-"))
    assert (await engine.handle(start("a fox", key=OTHER_CHANNEL))).options.style is None
    shown = await engine.handle(ShowSettings(KEY, ALICE))
    assert "channel style: comic" in shown.notices and "server ar: 16:9" in shown.notices


async def test_only_admins_change_settings_and_values_are_checked(engine):
    refused = await engine.handle(ChangeSetting(KEY, ALICE, "server", "style", "comic"))
    assert isinstance(refused.failure, Forbidden)
    bad = await engine.handle(ChangeSetting(KEY, ADMIN, "server", "think", "high"))
    assert bad.ok  # the default model has levels
    await engine.handle(ChangeSetting(KEY, ADMIN, "server", "model", "pro"))
    wrong = await engine.handle(ChangeSetting(KEY, ADMIN, "channel", "think", "high"))
    assert "has no thinking levels" in wrong.failure.message
    unknown = await engine.handle(ChangeSetting(KEY, ADMIN, "server", "colour", "red"))
    assert "Settings: model, ar, size" in unknown.failure.message


async def test_a_default_the_chosen_model_cannot_use_is_dropped_not_refused(engine, gemini):
    await engine.handle(ChangeSetting(KEY, ADMIN, "server", "think", "high"))
    reply = await engine.handle(start("a fox --model pro"))
    assert reply.ok and reply.options.think is None and gemini.requests[-1].thinking_level is None


def test_a_searching_request_reserves_a_few_queries_more():
    prices = Prices()
    assert prices.estimate("gemini-3-pro-image", "1K", searching=True) == pytest.approx(
        prices.estimate("gemini-3-pro-image", "1K") + 3 * 0.014)
    assert prices.search_cost(3, used_this_month=4_999) == pytest.approx(2 * 0.014)


async def test_settings_and_thread_controls_are_kept_across_restarts(tmp_path, model):
    from core.store import Store

    first = await Store.open(tmp_path / "kept.db")
    try:
        engine = Engine(first, model, EngineConfig())
        await engine.handle(ChangeSetting(KEY, ADMIN, "channel", "guidance", "Muted colours."))
        assert (await engine.handle(start("a fox --style comic --no cars --search --think high"))).ok
    finally:
        await first.close()
    reopened = await Store.open(tmp_path / "kept.db")
    try:
        engine = Engine(reopened, model, EngineConfig())
        kept = await engine.thread_options(KEY)
        assert (kept.style, kept.exclude, kept.search, kept.think) == ("comic", "cars", "web", "high")
        shown = await engine.handle(ShowSettings(KEY, ALICE))
        assert "channel guidance: Muted colours." in shown.notices
    finally:
        await reopened.close()


@pytest.mark.parametrize("text,prompt,expected", [
    ("a fox --style Oil_painting --no text, people --think high", "a fox",
     Options(style="oil-painting", exclude="text, people", think="high")),
    ("a fox --search in the snow", "a fox in the snow", Options(search="web")),
    ("a fox --search images --thoughts", "a fox", Options(search="images", thoughts=True)),
    ("a fox --no cars --ar 16:9", "a fox", Options(aspect_ratio="16:9", exclude="cars")),
    ("a fox --search off --thoughts off", "a fox", Options(search="off", thoughts=False)),
])
def test_control_flags_are_taken_out_of_the_prompt(text, prompt, expected):
    assert parse_flags(text) == (prompt, expected)


@pytest.mark.parametrize("text,needle", [("x --style", "needs a value"), ("x --think", "needs a value"),
                                         ("x --think medium", "use minimal or high"), ("x --no", "needs the things")])
def test_malformed_control_flags_are_explained(text, needle):
    with pytest.raises(UnsupportedOption) as info:
        parse_flags(text)
    assert needle in info.value.message
