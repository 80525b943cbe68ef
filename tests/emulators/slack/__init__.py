"""Local Slack for tests: a mock Web API for slack-sdk, token-guarded files, response_url hooks, signed deliveries
and Socket Mode to a running Bolt app. Tests import from here: `from tests.emulators.slack import SlackEmulator`.

One server, `SlackEmulator` (emulator.py: its state, scripting, inspection and the Web API's front door), built from
one part per section of Slack: web_api.py (chat, reactions, conversations, views, users), files.py (uploads and
`url_private`), events.py (what Slack sends an app, signed), socket_mode.py (the same over a websocket);
server.py holds the local servers (and `ForeignHost`, a host that is not Slack).
"""

from tests.emulators.slack.emulator import (
    APP_TOKEN,
    BOT_TOKEN,
    DEFAULT_CHANNEL,
    DEFAULT_USER,
    SIGNING_SECRET,
    UPLOAD_STEP,
    ApiCall,
    FileFetch,
    ForeignHost,
    HookPost,
    RecordedRequest,
    SendOptions,
    SentRequest,
    SignedResponse,
    SlackEmulator,
    UploadedFile,
    app_mention_event,
    message_event,
    next_ts,
    serve_bolt_app,
    sign,
)

__all__ = [
    "APP_TOKEN",
    "BOT_TOKEN",
    "DEFAULT_CHANNEL",
    "DEFAULT_USER",
    "SIGNING_SECRET",
    "UPLOAD_STEP",
    "ApiCall",
    "FileFetch",
    "ForeignHost",
    "HookPost",
    "RecordedRequest",
    "SendOptions",
    "SentRequest",
    "SignedResponse",
    "SlackEmulator",
    "UploadedFile",
    "app_mention_event",
    "message_event",
    "next_ts",
    "serve_bolt_app",
    "sign",
]
