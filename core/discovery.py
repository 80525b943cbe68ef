"""Start-up discovery: which image models this API key may use, matched against the catalogue.

`match` is pure (the listed models in, a `Lineup` and one line per problem out); `discover` asks the model port
and never stops the bot: when models.list fails, the catalogue is used as it is.
"""

from __future__ import annotations

import logging

from core import catalogue
from core.failures import Failure
from core.generation import ImageModel, ListedModel
from core.lineup import Lineup

log = logging.getLogger(__name__)


def is_image_model(model: ListedModel) -> bool:
    """A Gemini model that makes images through generateContent (not Imagen's `predict`, not a text model)."""
    name = model.id.lower()
    serves = not model.methods or "generateContent" in model.methods
    return serves and not name.startswith("imagen") and ("image" in name.split("-") or "nano-banana" in name)


def match(listed: list[ListedModel], default: str) -> tuple[Lineup, list[str]]:
    """The lineup this key allows, and a line per problem: the default not offered (and what is used instead),
    a catalogue model missing, an image model the catalogue does not know (usable with conservative settings)."""
    ids = {m.id for m in listed if is_image_model(m)}
    known = {model_id for model_id in ids if model_id in catalogue.MODELS}
    unknown = sorted(ids - known - set(catalogue.RETIRED_NAMES))
    extra = {model_id: catalogue.conservative(model_id) for model_id in unknown}
    lineup = Lineup(default, known, extra)
    problems = [
        f"{row.id} ({row.label}, {row.status}) is in the catalogue but not offered to this API key"
        for row in catalogue.MODELS.values()
        if row.status != catalogue.RETIRED and row.id not in known
    ]
    problems += [f"{model_id} is offered but not in the catalogue: usable with conservative settings"
                 for model_id in unknown]
    if not lineup.usable():
        problems.insert(0, "this API key offers no image model at all: every request will fail until it does")
        return Lineup(default), problems
    wanted = Lineup(default).resolve(None).model  # what the default means when every model is offered
    chosen = lineup.resolve(None).model
    if chosen.id != wanted.id:
        problems.insert(0, f"the configured default model {wanted.id} is not offered to this API key: "
                           f"using {chosen.id} ({chosen.label}) instead")
        lineup.default = chosen.id
    return lineup, problems


async def discover(model: ImageModel, default: str) -> Lineup:
    """The lineup for this key, each problem logged on one line; the plain catalogue when models.list fails."""
    try:
        listed = await model.list_models()
    except Exception as exc:  # a failed listing must not stop the bot
        reason = exc.message if isinstance(exc, Failure) else type(exc).__name__
        log.warning("models.list failed (%s): going on with the catalogue as it is", reason)
        return Lineup(default)
    lineup, problems = match(listed, default)
    for problem in problems:
        log.warning("models: %s", problem)
    log.info("models: %d usable, default %s", len(lineup.usable()), lineup.resolve(None).model.id)
    return lineup
