"""The NemoVideo API contract (../shared/nemo-api.md) as constants: every path, header, code and assumption.

Each point the service's page does not state is marked ASSUMED here and lives
nowhere else, so that when the real service differs, one edit fixes the
client and the fake server (nemoflow/testing/fake_nemo.py) together.
"""

from __future__ import annotations

import re

DEFAULT_BASE_URL = "https://mega-api-prod.nemovideo.ai"

# ---- headers ------------------------------------------------------------------
HEADER_SOURCE = "X-Skill-Source"
HEADER_VERSION = "X-Skill-Version"
HEADER_PLATFORM = "X-Skill-Platform"
ATTRIBUTION_HEADERS = (HEADER_SOURCE, HEADER_VERSION, HEADER_PLATFORM)
SKILL_SOURCE = "nemoflow"  # ASSUMED: the value nemoflow identifies itself with
PLATFORM_CLI, PLATFORM_CI = "cli", "ci"  # ASSUMED: `ci` when the CI environment variable is set
HEADER_CLIENT_ID = "X-Client-Id"

# ---- endpoints ----------------------------------------------------------------
APP_NAME = "nemo_agent"
USER_ID = "me"  # ASSUMED (agent-server convention)
ANONYMOUS_TOKEN = "/api/auth/anonymous-token"
CREATE_SESSION = "/api/tasks/me/with-session/nemo_agent"
RUN_SSE = "/run_sse"
UPLOAD = "/api/upload-video/nemo_agent/me/{sid}"
CREDITS = "/api/credits/balance/simple"
STATE = "/api/state/nemo_agent/me/{sid}/latest"
RENDER = "/api/render/proxy/lambda"
RENDER_STATUS = "/api/render/proxy/lambda/{id}"  # ASSUMED endpoint
# ASSUMED: a render id the service does not know is answered with HTTP 404 or with a non-zero body code (whatever the HTTP
# status); either way it means "not created", and the client asks for a new render under a new id.

# ---- envelope and codes ---------------------------------------------------------
# JSON bodies: {"code": 0, "message": "…", "data": {…}} (ASSUMED from "the response field data.token").
OK = 0
BAD_TOKEN = 1001
NO_SESSION = 1002
NO_CREDITS = 2001
UNSUPPORTED_FILE = 4001
FILE_TOO_LARGE = 4002
HTTP_MISSING_CLIENT_ID = 400
HTTP_PLAN_BLOCKED = 402
HTTP_RATE_LIMITED = 429
RATE_LIMIT_WAIT = 30.0  # seconds to wait on HTTP 429 before the one retry (Retry-After wins when the service sends it)

BIND_FIELD = "bind_id"  # ASSUMED: in create-session and state responses, used in the registration link on 2001
REGISTER_URL = "https://nemovideo.ai/register?bind={bind}"  # ASSUMED: the page gives only `?bind=<id>`, not the address

# ---- auth -----------------------------------------------------------------------
ANONYMOUS_TOKEN_DAYS = 7
ANONYMOUS_CREDITS = 100

# ---- uploads --------------------------------------------------------------------
SUPPORTED_TYPES = ("mp4", "mov", "avi", "webm", "mkv", "jpg", "png", "gif", "webp", "mp3", "wav", "m4a", "aac")
MAX_UPLOAD_BYTES = 500_000_000  # ASSUMED decimal: the page says "500MB"; every message says MB (10^6 bytes)
UPLOAD_FIELD_FILE, UPLOAD_FIELD_URL = "file", "url"
# ASSUMED fields of an upload's `data`: id, url, name, duration (ms), width, height.
UPLOAD_FIELDS = ("id", "url", "name", "duration", "width", "height")

# ---- messages (SSE) ---------------------------------------------------------------
SSE_TIMEOUT = 15 * 60.0  # seconds with no byte at all before the stream counts as dead
HEARTBEAT_NOTICE = 120.0  # a "still working" line this often while only heartbeats arrive


def message_body(session_id: str, text: str) -> dict:
    """The /run_sse request body (user_id and the new_message shape are ASSUMED)."""
    return {"app_name": APP_NAME, "user_id": USER_ID, "session_id": session_id,
            "new_message": {"role": "user", "parts": [{"text": text}]}}


# There is no message that sets a timeline (the page routes edits through plain-language messages): a session is
# brought to a Draft nemoflow built by the plain instructions of engines/nemo/instructions.py, each checked in the state.
# How the service's drafts name media, whether an upload lands on the timeline, and every field beyond t/tt/sg/d/m are
# unknown: schemas/service-draft.schema.json states only what the page states (engines/nemo/drafts.py reads the rest
# leniently).

# The backend talks as if the user had a visual editor. These phrasings are
# instructions to the client; each maps to what nemoflow does instead.
GUI_ACTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("export", re.compile(r"\b(click|press|tap|hit)\b[^.!\n]{0,30}\bexport\b|\bexport (button|now)\b|导出", re.I)),
    ("preview", re.compile(r"\bpreview\b[^.!\n]{0,30}\btimeline\b|\b(open|check|view)\b[^.!\n]{0,20}\b(timeline|preview|editor)\b"
                           r"|\bdrag\b|预览", re.I)),
)

# ---- state and render -------------------------------------------------------------
RENDER_STATUSES = ("queued", "rendering", "completed", "failed")
POLL_INTERVAL = 30.0  # seconds, as the service asks
OUTPUT_FORMATS = ("mp4",)  # output is H.264 in MP4
OUTPUT_QUALITY = "high"  # the only value the page shows; an export's own quality setting is applied by converting here
# ASSUMED: the service renders at the draft's canvas (m.canvas w, h, fps), the only size the body can carry; the page says
# renders are "up to 1080x1920", so what comes back may be smaller than asked (nemoflow probes it and says so).


def render_id(unix_ms: int) -> str:
    return f"render_{unix_ms}"


# ---- remedies: what nemoflow says for each failure (the contract's error table) ------
SUPPORTED_LIST = ", ".join(SUPPORTED_TYPES)
REMEDIES = {
    BAD_TOKEN: "it is invalid or expired; get a new token from your NemoVideo account and set it again "
               "(`nemoflow auth login`, or NEMO_TOKEN)",
    NO_CREDITS: "top up credits in your NemoVideo account, then run again",
    UNSUPPORTED_FILE: f"the service accepts these types only: {SUPPORTED_LIST}; convert the file first",
    FILE_TOO_LARGE: "the service takes files of at most 500 MB (500,000,000 bytes); trim the clip or compress it (for example a "
                    "lower bitrate), then run again",
    HTTP_PLAN_BLOCKED: "export is blocked on this plan (a plan limit, not credits): register or upgrade your plan to unlock export",
    HTTP_RATE_LIMITED: "the service is rate-limiting this client (one anonymous token per client per 7 days); wait, or set "
                       "NEMO_TOKEN to a token from your NemoVideo account",
}
