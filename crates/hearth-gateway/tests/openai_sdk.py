"""Drives Hearth's OpenAI-compatible endpoint with the official `openai` Python SDK.

Usage: python openai_sdk.py BASE_URL API_KEY
Prints one JSON object: the models listed, a non-streaming completion, a streaming one
(with usage), a request resending the whole history, two requests with the same `user`,
one naming its session in X-Hearth-Session, and the errors for an unknown model and a
malformed body.
"""
import json
import sys
import urllib.error
import urllib.request

import openai


def main():
    base_url, api_key = sys.argv[1], sys.argv[2]
    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
    out = {"models": [m.id for m in client.models.list().data]}

    first = client.chat.completions.with_raw_response.create(
        model="hearth",
        messages=[{"role": "user", "content": "first question"}],
    )
    completion = first.parse()
    out["plain"] = {
        "object": completion.object,
        "text": completion.choices[0].message.content,
        "role": completion.choices[0].message.role,
        "finish_reason": completion.choices[0].finish_reason,
        "usage": completion.usage.model_dump() if completion.usage else None,
        "session": first.headers.get("x-hearth-session"),
    }

    history = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": completion.choices[0].message.content},
        {"role": "user", "content": "second question"},
    ]
    stream = client.chat.completions.with_raw_response.create(
        model="hearth",
        messages=history,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream.parse())
    out["streamed"] = {
        "objects": sorted({c.object for c in chunks}),
        "text": "".join(
            c.choices[0].delta.content or "" for c in chunks if c.choices
        ),
        "finish_reasons": [
            c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
        ],
        "usage": next((c.usage.model_dump() for c in chunks if c.usage), None),
        "session": stream.headers.get("x-hearth-session"),
    }

    history += [
        {"role": "assistant", "content": out["streamed"]["text"]},
        {"role": "user", "content": "third question"},
    ]
    third = client.chat.completions.with_raw_response.create(model="hearth", messages=history)
    out["resent"] = {
        "text": third.parse().choices[0].message.content,
        "session": third.headers.get("x-hearth-session"),
    }

    alice = [
        client.chat.completions.with_raw_response.create(
            model="hearth", user="alice", messages=[{"role": "user", "content": text}]
        )
        for text in ("hi, I am Alice", "me again")
    ]
    out["user_field"] = {
        "texts": [r.parse().choices[0].message.content for r in alice],
        "sessions": [r.headers.get("x-hearth-session") for r in alice],
    }
    by_header = client.chat.completions.with_raw_response.create(
        model="hearth",
        messages=[{"role": "user", "content": "fourth question"}],
        extra_headers={"X-Hearth-Session": out["plain"]["session"]},
    )
    out["by_header"] = {
        "text": by_header.parse().choices[0].message.content,
        "session": by_header.headers.get("x-hearth-session"),
    }

    try:
        client.chat.completions.create(
            model="no-such-agent", messages=[{"role": "user", "content": "hi"}]
        )
        out["unknown_model"] = None
    except openai.NotFoundError as err:
        out["unknown_model"] = {"status": err.status_code, "body": err.body}

    bad = urllib.request.Request(
        base_url + "/chat/completions",
        data=json.dumps({"model": "hearth", "messages": "not a list"}).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    try:
        urllib.request.urlopen(bad)
        out["bad_body"] = None
    except urllib.error.HTTPError as err:
        out["bad_body"] = {"status": err.code, "body": json.loads(err.read())}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
