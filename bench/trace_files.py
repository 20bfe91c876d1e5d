"""Files per endpoint: which igny8d modules run to serve an endpoint, from its route to its SQL.

A reader following an endpoint opens its route's module, then whatever code runs for it. This
tool measures that instead of guessing: it serves an in-process igny8d on a throwaway SQLite
database, records (with `sys.setprofile`, in every thread) the igny8d modules whose functions
run while one request is served — and, for an AI action, while its job runs — and sorts them:

* **shared**: the machinery every endpoint of the kind passes through, read once — what a
  public ping and an authenticated `GET auth/me/` run (the request pipeline), what a job that
  does nothing runs (the executor), the generic resource layer and the store's generic
  statements (`SHARED_GENERIC` below, by module name, for the old layout and the new);
* **the AI machinery** (`+ai`): what every AI action shares — the lifecycle, the ledger, the
  account's provider and prompt library (`AI_MACHINERY`), also read once;
* **the endpoint's own files**: the route's module plus everything else that ran, with the
  algorithms of `igny8d/ai` and `igny8d/text.py` counted apart (`algo`: the provider's work
  behind one call, a separate read).

Usage: `python bench/trace_files.py` (the tree it is run from), or against another checkout:
`PYTHONPATH=<checkout> python bench/trace_files.py --root <checkout>`. Prints a table and,
with `--json FILE`, the module lists.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

#: Generic machinery a reader learns once (module names of both layouts; absent ones are
#: simply never seen).
SHARED_GENERIC = (
    "igny8d.handlers.resource", "igny8d.handlers.bulk", "igny8d.handlers.bodies",
    "igny8d.settings", "igny8d.jobs", "igny8d.services.base", "igny8d.services.sector_objects",
    "igny8d.store.crud", "igny8d.store.specs", "igny8d.store.rows", "igny8d.store.writes",
    "igny8d.store.pages", "igny8d.store.conflicts", "igny8d.store.engine",
    "igny8d.store.errors", "igny8d.store.schema",
)
ALGORITHMS = ("igny8d.ai", "igny8d.text")
#: What every AI action shares, read once: the lifecycle and the old layout's ai_common, the
#: ledger, and the account's provider and prompt library.
AI_MACHINERY = ("igny8d.operations.lifecycle", "igny8d.services.ai_common",
                "igny8d.services.billing", "igny8d.store.billing",
                "igny8d.services.integrations", "igny8d.services.prompts",
                "igny8d.store.ai_settings")


class Recorder:
    """The igny8d modules whose Python functions run while recording (all threads)."""

    def __init__(self, root: Path) -> None:
        self.prefix = str(root / "igny8d") + "/"
        self.root = root
        self.seen: set[str] = set()
        self._on = False

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        # a module's own code runs when it is first imported: that is loading, not serving
        if event == "call" and self._on and frame.f_code.co_name != "<module>":
            name = frame.f_code.co_filename
            if name.startswith(self.prefix):
                self.seen.add(name)

    def start(self) -> None:
        self.seen = set()
        self._on = True
        sys.setprofile(self._profile)
        threading.setprofile(self._profile)

    def stop(self) -> set[str]:
        self._on = False
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
        out = set()
        for path in self.seen:
            rel = Path(path).relative_to(self.root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out.add(".".join(parts))
        return out


def _is(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    root = args.root.resolve()
    sys.path.insert(0, str(root))

    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    from tornado.testing import bind_unused_port

    import igny8d
    from igny8d.app import make_app, server_for
    from igny8d.context import AppContext
    from igny8d.settings import Settings

    assert Path(igny8d.__file__).resolve().is_relative_to(root), igny8d.__file__
    rec = Recorder(root)
    tmp = Path(tempfile.mkdtemp(prefix="igny8d-trace-"))
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp / 'db.sqlite'}", data_dir=tmp,
                        secret_key="t" * 48, bcrypt_rounds=4, debug_throttle=True,
                        log_to_file=False, log_level="WARNING")
    ctx = AppContext.build(settings)
    await ctx.store.migrate()
    sock, port = bind_unused_port()
    server = server_for(make_app(ctx), settings)
    server.add_sockets([sock])
    http = AsyncHTTPClient(force_instance=True)
    base = f"http://127.0.0.1:{port}/api/v1"
    token = ""

    async def call(method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                   ctype: str = "application/json") -> Any:
        headers = {"Content-Type": ctype}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else (b"" if method in ("POST", "PUT") else None))
        resp = await http.fetch(HTTPRequest(base + path, method=method, headers=headers,
                                            body=data), raise_error=False)
        assert resp.code < 400, (method, path, resp.code, resp.body[:500])
        return json.loads(resp.body) if resp.body else None

    async def traced(fn: Callable[[], Awaitable[Any]]) -> tuple[Any, set[str]]:
        rec.start()
        try:
            out = await fn()
        finally:
            seen = rec.stop()
        return out, seen

    async def run_job(task_id: str) -> set[str]:
        """Start the workers, record until the job is done, stop them."""
        async def wait() -> None:
            await ctx.executor.start()
            for _ in range(600):
                state = (await call("GET", f"/system/settings/task_progress/{task_id}/")
                         )["data"]["state"]
                if state in ("SUCCESS", "FAILURE", "REVOKED"):
                    assert state == "SUCCESS", state
                    return
                await asyncio.sleep(0.05)
            raise TimeoutError(task_id)
        _, seen = await traced(wait)
        await ctx.executor.stop()
        return seen

    # -- baselines ----------------------------------------------------------------------------
    _, ping = await traced(lambda: call("GET", "/system/ping/"))
    await call("POST", "/auth/register/", {"email": "trace@example.com",
                                           "password": "a-long-password",
                                           "password_confirm": "a-long-password"})
    token = (await call("POST", "/auth/login/", {"email": "trace@example.com",
                                                 "password": "a-long-password"}))["data"]["access"]
    _, me = await traced(lambda: call("GET", "/auth/me/"))

    async def noop(*_args: Any) -> dict[str, Any]:
        return {}
    ctx.jobs.register("trace.noop", noop)
    from igny8d.permissions import Actor
    user = (await call("GET", "/auth/me/"))["data"]
    user = user.get("user", user)
    async with ctx.store.begin() as conn:
        noop_task = (await ctx.executor.submit(conn, Actor(
            user_id=int(user["id"]), account_id=int(user["account_id"]), role="owner"),
            kind="trace.noop", payload={}))["task_id"]
    job_base = await run_job(noop_task)
    request_base = ping | me

    # the module whose route list names the path (a generated class lives in resource.py)
    import importlib
    import pkgutil

    import igny8d.handlers as handlers_pkg
    routes: dict[str, str] = {}
    for info in pkgutil.iter_modules(handlers_pkg.__path__):
        module = importlib.import_module(f"igny8d.handlers.{info.name}")
        for spec in getattr(module, "default_handlers", ()):
            routes.setdefault(spec[0], module.__name__)

    def route_module(path: str) -> str:
        import re
        full = "/api/v1" + path.split("?")[0]
        for pattern, module in routes.items():
            if re.fullmatch(pattern, full):
                return module
        raise KeyError(full)

    rows: list[tuple[str, str, set[str], set[str]]] = []

    def record(name: str, path: str, req: set[str], job: set[str] | None = None) -> None:
        touched = (req - request_base) | ((job or set()) - job_base)
        rows.append((name, route_module(path), touched, request_base | (job_base if job else
                                                                         set())))

    # -- CRUD ---------------------------------------------------------------------------------
    site, req = await traced(lambda: call("POST", "/auth/sites/", {"name": "Trace site"}))
    record("POST auth/sites/", "/auth/sites/", req)
    sector = (await call("POST", "/auth/sectors/", {"name": "Coffee",
                                                   "site_id": site["data"]["id"]}))["data"]
    words = ["espresso machine", "best espresso machine", "espresso machine reviews",
             "cheap espresso machine", "coffee grinder", "burr coffee grinder",
             "best coffee grinder", "manual coffee grinder", "pour over coffee",
             "pour over coffee ratio", "how to make pour over coffee", "cold brew coffee",
             "cold brew ratio", "how to make cold brew", "french press coffee",
             "french press ratio"]
    csv = "keyword,volume\n" + "".join(f"{w},{100 + i}\n" for i, w in enumerate(words))
    boundary = "traceboundary"
    form = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in (("site_id", site["data"]["id"]), ("sector_id", sector["id"])))
    form += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
             f'filename="k.csv"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n')
    _, req = await traced(lambda: call("POST", "/planner/keywords/import_keywords/",
                                       raw=form.encode(),
                                       ctype=f"multipart/form-data; boundary={boundary}"))
    record("POST planner/keywords/import_keywords/", "/planner/keywords/import_keywords/", req)
    _, req = await traced(lambda: call("GET", "/planner/keywords/?page_size=25"))
    record("GET planner/keywords/", "/planner/keywords/", req)
    _, req = await traced(lambda: call("GET", "/auth/users/"))
    record("GET auth/users/", "/auth/users/", req)
    listing = await call("GET", "/planner/keywords/?page_size=100")
    kw_ids = [k["id"] for k in (listing.get("results") or listing["data"]["results"])]

    # -- AI actions, each with its job ---------------------------------------------------------
    async def ai(name: str, path: str, body: dict[str, Any]) -> Any:
        out, req = await traced(lambda: call("POST", path, body))
        job = await run_job(out["data"]["task_id"])
        record(name, path, req, job)
        return (await call("GET", f"/system/settings/task_progress/{out['data']['task_id']}/")
                )["data"]

    done = await ai("POST planner/keywords/auto_cluster/", "/planner/keywords/auto_cluster/",
                    {"ids": kw_ids, "sector_id": sector["id"]})
    _, req = await traced(lambda: call(
        "GET", f"/system/settings/task_progress/{done['task_id']}/"))
    record("GET system/settings/task_progress/{id}/",
           f"/system/settings/task_progress/{done['task_id']}/", req)
    clusters = await call("GET", "/planner/clusters/?page_size=100")
    cluster_id = (clusters.get("results") or clusters["data"]["results"])[0]["id"]
    done = await ai("POST planner/clusters/auto_generate_ideas/",
                    "/planner/clusters/auto_generate_ideas/", {"ids": [cluster_id]})
    queued = await call("POST", "/planner/ideas/bulk_queue_to_writer/",
                        {"ids": done["result"]["idea_ids"]})
    tasks = await call("GET", "/writer/tasks/?page_size=100")
    task_ids = [t["id"] for t in (tasks.get("results") or tasks["data"]["results"])]
    assert queued and task_ids
    done = await ai("POST writer/tasks/auto_generate_content/",
                    "/writer/tasks/auto_generate_content/", {"ids": task_ids[:1]})
    done = await ai("POST writer/content/generate_image_prompts/",
                    "/writer/content/generate_image_prompts/",
                    {"ids": done["result"]["content_ids"]})
    await ai("POST writer/images/generate_images/", "/writer/images/generate_images/",
             {"ids": done["result"]["image_ids"][:2]})

    # -- report ---------------------------------------------------------------------------------
    out: dict[str, Any] = {}
    print(f"{'endpoint':44} {'own':>3} {'+ai':>3} {'algo':>4} {'shared':>6}   own files")
    for name, decl, touched, base_set in rows:
        shared = {m for m in touched if _is(m, SHARED_GENERIC)} | base_set
        algo = {m for m in touched if _is(m, ALGORITHMS)}
        machinery = {m for m in touched if _is(m, AI_MACHINERY)} - shared
        own = sorted({decl} | (touched - shared - algo - machinery))
        out[name] = {"own": own, "ai_machinery": sorted(machinery),
                     "algorithms": sorted(algo), "shared": sorted(shared)}
        short = ", ".join(m.removeprefix("igny8d.") for m in own)
        print(f"{name:44} {len(own):3} {len(machinery):3} {len(algo):4} {len(shared):6}   "
              f"{short}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    http.close()
    server.stop()
    await ctx.close()


if __name__ == "__main__":
    asyncio.run(main())
