"""A small HTTP client for the load test and benchmarks/bench_portal.py (standard library only).

Each client logs in once, then per registration looks the child up by number and posts a new
episode with its own ``submission_id``; every tenth form is sent twice (a double click), which
must not register anything twice.
"""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):   # keep 302 as the answer
        return None


class PortalClient:
    """One logged-in browser session."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.token = ""

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body,
                                     headers={"Referer": self.base + path})
        try:
            with self.opener.open(req, timeout=60) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8", "replace")

    def login(self, name: str, password: str) -> None:
        status, page = self.request("/logga-in/")
        token = _CSRF.search(page).group(1)
        status, _ = self.request("/logga-in/", {"csrfmiddlewaretoken": token, "username": name,
                                                "password": password})
        if status != 302:
            raise RuntimeError(f"login of {name} failed ({status})")
        _, page = self.request("/barn/sok/")
        self.token = _CSRF.search(page).group(1)

    def register(self, number: str, start_date: str, twice: bool = False) -> int:
        status, _ = self.request("/barn/sok/", {"csrfmiddlewaretoken": self.token,
                                                "personnummer": number})
        if status != 302:
            raise RuntimeError(f"look-up failed ({status})")
        form = {"csrfmiddlewaretoken": self.token, "submission_id": uuid.uuid4().hex,
                "start_date": start_date, "legal_basis": "SOL", "placement_type": "FH",
                "problem_school": "on"}
        status, page = self.request("/episod/ny/", form)
        if status != 302:
            found = re.search(r'<div class="error-summary".*?</div>', page, re.DOTALL)
            raise RuntimeError(f"registration answered {status}: "
                               + re.sub(r"<[^>]+>|\s+", " ", found.group(0) if found else "")[:300])
        if twice:
            again, _ = self.request("/episod/ny/", form)
            if again != 302:
                raise RuntimeError(f"double submission answered {again}")
        return status


@dataclass
class LoadResult:
    """What a load run did."""

    registrations: int
    seconds: float
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.registrations / self.seconds if self.seconds else float("nan")


def run_load(base: str, users: list[tuple[str, str]], numbers: list[str],
             clients: int = 20) -> LoadResult:
    """Register one episode per number with ``clients`` concurrent sessions.

    Parameters
    ----------
    base : str
        Server URL (``http://127.0.0.1:PORT``; localhost only).
    users : list of (name, password)
        One user per client.
    numbers : list of str
        Synthetic identity numbers, one registration each.
    clients : int, default 20

    Returns
    -------
    LoadResult
    """
    if not base.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError("the load test runs against localhost only")
    chunks = [numbers[i::clients] for i in range(clients)]
    result = LoadResult(registrations=len(numbers), seconds=0.0)

    def work(i: int) -> list[int]:
        client = PortalClient(base)
        client.login(*users[i])
        out = []
        for k, number in enumerate(chunks[i]):
            try:
                out.append(client.register(number, "2025-01-15", twice=(k % 10 == 0)))
            except (RuntimeError, OSError) as err:  # recorded; the test fails on any
                result.errors.append(f"{type(err).__name__}: {err}")
        return out

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for statuses in pool.map(work, range(clients)):
            for s in statuses:
                result.statuses[s] = result.statuses.get(s, 0) + 1
    result.seconds = time.perf_counter() - t0
    return result
