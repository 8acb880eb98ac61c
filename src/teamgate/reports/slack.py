"""``report weekly --send``: the report as a Slack-friendly webhook message.

The message is ``{"text": ...}`` in Slack's mrkdwn: a bold title, one line per
team with cost, budget share and top model, and the aligned table in a code
block. Slack, Mattermost and most chat webhooks accept it as is.

>>> # payload = slack_message(report); await post_webhook(url, payload)
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from teamgate.pricing.money import format_usd
from teamgate.reports.build import Report
from teamgate.reports.escape import slack_text, with_texts
from teamgate.reports.render import render_table, title


class WebhookFailed(RuntimeError):
    """The webhook answered with an error status or could not be reached."""


def slack_message(report: Report) -> dict[str, Any]:
    """The webhook payload for ``report``; ledger text in it is escaped (escape.py)."""
    lines = [f"*{slack_text(title(report))}*"]
    for line in with_texts(report, slack_text).teams:
        used = line.budget_used_percent
        share = "" if used is None else f" ({used}% of {format_usd(line.budget_pusd or 0)})"
        top = f", top model `{line.top_model}`" if line.top_model else ""
        refused = f", {line.refused:,} refused" if line.refused else ""
        lines.append(
            f"• *{line.team}*: {format_usd(line.cost_pusd)}{share}, "
            f"{line.requests:,} requests{refused}{top}"
        )
    lines.append(f"Total: {format_usd(report.total.cost_pusd)}")
    table = render_table(report).split("\n", 2)[2].rstrip()
    lines.append("```\n" + "\n".join(slack_text(row) for row in table.split("\n")) + "\n```")
    return {"text": "\n".join(lines)}


async def post_webhook(url: str, payload: dict[str, Any], timeout_s: float = 10.0) -> None:
    """POST the payload as JSON; :class:`WebhookFailed` (never naming the URL) on failure."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(
                url, data=orjson.dumps(payload), headers={"content-type": "application/json"}
            ) as resp,
        ):
            if resp.status >= 300:
                raise WebhookFailed(f"the webhook answered HTTP {resp.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise WebhookFailed(f"the webhook could not be reached ({type(exc).__name__})") from None
