"""
A Python producer for videoscore2 queue workers, on PyPI's ``bullmq`` (pinned in requirements.txt).

It mirrors src/queue/producer.ts: ``enqueue_scores`` adds one job per (video, prompt, options) under
the id ``score_job_id`` gives, which is byte for byte the id the Node producer gives, so enqueueing
twice (from Python or Node) adds nothing; ``collect_scores`` waits for those jobs and returns each
``ScoreResult`` (a dict, as the worker wrote it) or the typed failure ``{"code", "message"}``.
The job format (``JOB_FORMAT``) is checked both ways, and a completed value is a result only if it
has the ScoreResult shape (``check_score_result``, as src/queue/result-check.ts): see docs/queue.md.

    import asyncio, videoscore2_queue as vq
    async def main():
        enq = await vq.enqueue_scores([{"video": "/data/a.mp4", "prompt": "a cat"}], "redis://queue-host:6379")
        for r in await vq.collect_scores(enq, "redis://queue-host:6379"):
            print(r["video"], r["result"]["visualQuality"]["score"] if r["ok"] else r["error"]["code"])
    asyncio.run(main())
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import re
import time
from decimal import Decimal
from typing import Any, Callable, Optional

from bullmq import Job, Queue
from redis.exceptions import ResponseError as RedisResponseError

#: The job format this module writes and reads (src/queue/job.ts's JOB_FORMAT).
JOB_FORMAT = 1
DEFAULT_QUEUE = "videoscore2"
#: How long finished jobs stay in Redis for a rerun to collect: 7 days.
DEFAULT_KEEP_SECONDS = 7 * 24 * 3600

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _js_string(s: str) -> str:
    """A string as JavaScript's JSON.stringify writes it (non-ASCII raw, lone surrogates escaped)."""
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif c < 0x20 or 0xD800 <= c <= 0xDFFF:
            out.append("\\u%04x" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _js_number(x: Any) -> str:
    """A number as JavaScript writes it (ECMAScript Number::toString): 1.0 is "1", 1e21 is "1e+21"."""
    if isinstance(x, int) and abs(x) <= 2**53:
        return str(x)
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return "null"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr() is the shortest decimal that reads back as x, as JavaScript's is.
    t = Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(map(str, t.digits))
    k = len(digits)
    n = k + t.exponent
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        body = (digits if k == 1 else digits[0] + "." + digits[1:]) + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + body


def _canonical(v: Any) -> str:
    """JSON with object keys sorted as JavaScript sorts them (by UTF-16 code units)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return _js_number(v)
    if isinstance(v, str):
        return _js_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_canonical(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(_js_string(k) + ":" + _canonical(v[k]) for k in keys) + "}"
    raise TypeError(f"a job holds JSON values only, not {type(v).__name__}")


def _resolve(video: str) -> str:
    """An absolute path as Node's path.resolve makes it (which, unlike POSIX, folds a leading "//")."""
    p = os.path.abspath(video)
    return "/" + p.lstrip("/") if p.startswith("//") else p


def score_job_id(video: str, prompt: str, options: Optional[dict] = None) -> str:
    """The job id of a (video, prompt, options): "vs2-" + sha256, as scoreJobId of the Node library."""
    return "vs2-" + hashlib.sha256(_canonical([video, prompt, options or {}]).encode("utf-8", "surrogatepass")).hexdigest()


def _job_data(item: dict, i: int) -> dict:
    if not isinstance(item, dict) or not isinstance(item.get("video"), str) or not isinstance(item.get("prompt"), str):
        raise ValueError(f"items[{i}] must be {{'video': str, 'prompt': str, 'options'?: dict}}, got {item!r}")
    options = item.get("options") or {}
    if not isinstance(options, dict):
        raise ValueError(f"items[{i}]['options'] must be a dict, got {options!r}")
    # Through JSON once, so what is hashed is what is stored (and NaN is refused, as JSON has none).
    return json.loads(json.dumps({"v": JOB_FORMAT, "video": _resolve(item["video"]), "prompt": item["prompt"], "options": options}, allow_nan=False))


async def enqueue_scores(items: list, connection: str, queue: str = DEFAULT_QUEUE, keep_seconds: int = DEFAULT_KEEP_SECONDS, attempts: int = 3) -> dict:
    """
    Adds a job per item ({"video", "prompt", "options"}; a relative video is resolved against this
    process's folder) unless a job with its id is already in the queue (waiting, running or finished).
    Returns {"queue", "ids", "jobs", "added", "existing"}: hand it to collect_scores.
    """
    jobs = [_job_data(it, i) for i, it in enumerate(items)]
    ids = [score_job_id(j["video"], j["prompt"], j["options"]) for j in jobs]
    q = Queue(queue, {"connection": connection})
    try:
        first = {}
        for i, job_id in enumerate(ids):
            first.setdefault(job_id, i)
        to_add = [(job_id, i) for job_id, i in first.items() if await q.getJobState(job_id) == "unknown"]
        if to_add:
            # An add whose id exists is ignored by BullMQ: two producers racing still make one job.
            await q.addBulk([
                {
                    "name": "score",
                    "data": jobs[i],
                    "opts": {
                        "jobId": job_id,
                        "attempts": attempts,
                        "backoff": {"type": "exponential", "delay": 1000},
                        "removeOnComplete": {"age": keep_seconds},
                        "removeOnFail": {"age": keep_seconds},
                    },
                }
                for job_id, i in to_add
            ])
        return {"queue": queue, "ids": ids, "jobs": jobs, "added": len(to_add), "existing": len(items) - len(to_add)}
    finally:
        await q.close()


_REASON = re.compile(r"^(ERR_[A-Z_]+): ([\s\S]*)$")


def parse_failure_reason(reason: Optional[str]) -> dict:
    """A failed job's "ERR_CODE: message" as {"code", "message"}; one without a code is ERR_INTERNAL."""
    m = _REASON.match(reason or "")
    if m:
        return {"code": m.group(1), "message": m.group(2)}
    return {"code": "ERR_INTERNAL", "message": reason or "the job failed without a reason"}


def _format_error(what: str) -> dict:
    return {"code": "ERR_QUEUE_FORMAT", "message": f"{what}, and this collector reads v{JOB_FORMAT}: producer and workers must be releases with the same queue format (docs/queue.md)"}


class _Bad(Exception):
    pass


def _fail(at: str, expected: str, v: Any):
    if isinstance(v, str):
        shown = json.dumps(v[:40] + "…" if len(v) > 40 else v, ensure_ascii=False)
    else:
        # The words of the Node collector (JavaScript's typeof).
        shown = "an array" if isinstance(v, list) else "null" if v is None else "undefined" if v is _ABSENT else "boolean" if isinstance(v, bool) else "object" if isinstance(v, dict) else "number"
    raise _Bad(f"{at} is {shown}, expected {expected}")


def _is_num(v: Any) -> bool:
    """A finite number as JavaScript reads it: bool is no number, and an int past float's range is Infinity there."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _finite(v, at):
    if not _is_num(v):
        _fail(at, "a finite number", v)


def _int(v, at):
    if not (_is_num(v) and float(v).is_integer()):
        _fail(at, "an integer", v)


def _str(v, at):
    if not isinstance(v, str):
        _fail(at, "a string", v)


def _score(v, at):
    if not (_is_num(v) and float(v).is_integer() and 1 <= v <= 5):
        _fail(at, "an integer in [1, 5]", v)


def _one_of(*xs):
    def check(v, at):
        if not (isinstance(v, str) and v in xs):
            _fail(at, " or ".join(json.dumps(x) for x in xs), v)
    return check


def _nullable(c):
    return lambda v, at: None if v is None else c(v, at)


_ABSENT = object()


def _optional(c):
    return lambda v, at: None if v is _ABSENT else c(v, at)


def _array_of(c, length=None):
    def check(v, at):
        if not isinstance(v, list) or (length is not None and len(v) != length):
            _fail(at, "an array" if length is None else f"an array of {length}", v)
        for i, x in enumerate(v):
            c(x, f"{at}[{i}]")
    return check


def _object(shape):
    def check(v, at):
        if not isinstance(v, dict):
            _fail(at, "an object", v)
        for k, c in shape.items():
            c(v.get(k, _ABSENT), f"{at}.{k}" if at else k)
    return check


# The ScoreResult shape, field for field as src/queue/result-check.ts checks it (absent is not null).
_DIMENSION = _object({
    "score": _nullable(_score), "soft": _nullable(_finite), "expected": _nullable(_finite),
    "probs": _nullable(_array_of(_finite, 5)), "rawProbs": _nullable(_array_of(_finite, 5)), "tokenIndex": _int,
    "mean": _optional(_nullable(_finite)), "std": _optional(_nullable(_finite)), "majority": _optional(_nullable(_score)),
    "agreement": _optional(_finite), "answered": _optional(_int),
})
_DIMS = {"visualQuality": _DIMENSION, "textAlignment": _DIMENSION, "physicalConsistency": _DIMENSION}
_TEXT = {"rationale": _str, "text": _str, "tokens": _array_of(_int), "stopReason": _one_of("eos", "max_tokens")}
_RESULT = _object({
    **_DIMS, **_TEXT,
    "mode": _one_of("think", "direct"),
    "samples": _optional(_array_of(_object({**_DIMS, **_TEXT, "seed": _int}))),
    "unanswered": _optional(_int),
    "frames": _object({k: _finite if k == "nativeFps" else _array_of(_int) if k == "indices" else _int
                       for k in ("count", "width", "height", "indices", "sourceWidth", "sourceHeight", "totalFrames", "nativeFps")}),
    "timings": _object({k: _finite for k in ("sampleMs", "sampleTotalMs", "encodeMs", "prefillMs", "generateMs", "totalMs",
                                             "promptTokens", "generatedTokens", "decodedTokens", "sharedSteps", "tokensPerSecond")}),
})


def check_score_result(value: Any, what: str, at: str = "") -> Optional[dict]:
    """
    None when ``value`` has the ScoreResult shape (every number a number), else the ERR_QUEUE_FORMAT
    failure naming the first wrong field: whoever can write to Redis can complete a job with anything.
    """
    try:
        _RESULT(value, at)
        return None
    except _Bad as e:
        why = re.sub(r"^ is", "the value is", str(e))
        return {"code": "ERR_QUEUE_FORMAT", "message": f"{what} completed with a value that is not a ScoreResult ({why}): it was not written by a videoscore2 worker of this release"}


def read_job_value(job_id: str, value: Any) -> dict:
    """A completed job's value as {"ok": True, "result"} or, of another format or shape, {"ok": False, "error"}."""
    what = f"job {job_id}"
    v = value.get("v") if isinstance(value, dict) else None
    if v != JOB_FORMAT or isinstance(v, bool):
        if v is None:
            # Says which field is wrong when it is not even a result; a bare result is of an older format.
            bad = check_score_result(value, what)
            if bad:
                return {"ok": False, "error": bad}
        shown = "without a version (no \"v\" field)" if v is None else f"v{json.dumps(v)}"
        return {"ok": False, "error": _format_error(f"{what} completed with a result in queue format {shown}")}
    result = value.get("result")
    bad = check_score_result(result, what, "result")
    return {"ok": False, "error": bad} if bad else {"ok": True, "result": result}


def _unreadable_job(e: Exception) -> bool:
    """
    Whether reading one job failed on what is stored under its key, not on the connection: JSON
    fields that do not parse or parse to the wrong kind of value, numbers that are not, or a key that
    is not a hash (WRONGTYPE). A lost connection raises redis' ConnectionError, none of these.
    """
    if isinstance(e, RedisResponseError):
        return str(e).startswith("WRONGTYPE")
    return isinstance(e, (ValueError, TypeError, AttributeError, KeyError))


async def _finished_job(q: Queue, job_id: str, state: str) -> dict:
    """A finished (or vanished) job as {"ok": True, "result"} or {"ok": False, "error"}."""
    try:
        job = None if state == "unknown" else await Job.fromId(q, job_id)
    except Exception as e:
        if not _unreadable_job(e):
            raise
        # A job stored as BullMQ cannot have stored it is that item's failure, not the end of the collect.
        why = f"cannot be read ({e}): it was not written by BullMQ; remove it (BullMQ's queue.remove(id)) and enqueue again"
        return {"ok": False, "error": {"code": "ERR_QUEUE_FORMAT", "message": f"job {job_id} in queue \"{q.name}\" {why}"}}
    if job is None:
        return {"ok": False, "error": {"code": "ERR_INTERNAL", "message": f"job {job_id} is not in queue \"{q.name}\" (removed, or its retention lapsed): enqueue it again"}}
    if state == "completed":
        return read_job_value(job_id, job.returnvalue)
    return {"ok": False, "error": parse_failure_reason(job.failedReason)}


async def collect_scores(
    enqueued: dict,
    connection: str,
    queue: Optional[str] = None,
    poll_seconds: float = 0.5,
    timeout_seconds: Optional[float] = None,
    on_result: Optional[Callable[[dict], None]] = None,
) -> list:
    """
    Waits for the jobs of an enqueue_scores call and returns one entry per item, in item order:
    {"index", "id", "video", "prompt", "ok": True, "result"} or {..., "ok": False, "error": {"code", "message"}};
    None where timeout_seconds passed first (the jobs stay queued: a later collect picks them up).
    """
    q = Queue(queue or enqueued.get("queue") or DEFAULT_QUEUE, {"connection": connection})
    out: list = [None] * len(enqueued["ids"])
    pending: dict = {}
    for i, job_id in enumerate(enqueued["ids"]):
        pending.setdefault(job_id, []).append(i)
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    try:
        while pending:
            for job_id in list(pending):
                state = await q.getJobState(job_id)
                if state not in ("completed", "failed", "unknown"):
                    continue
                got = await _finished_job(q, job_id, state)
                for i in pending.pop(job_id):
                    data = enqueued["jobs"][i]
                    out[i] = {"index": i, "id": job_id, "video": data["video"], "prompt": data["prompt"], **got}
                    if on_result:
                        on_result(out[i])
            if not pending or (deadline is not None and time.monotonic() >= deadline):
                break
            await asyncio.sleep(poll_seconds)
        return out
    finally:
        await q.close()
