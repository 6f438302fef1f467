"""The orders service's timer queue on a real asyncio loop: many keyed deadlines behind one loop
timer fire in deadline order, never early, promptly, and cancelled or replaced ones never."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Hashable

from gateway.app.timer_queue import TimerQueue


def run(coro: object) -> None:
    asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


def test_many_timers_fire_in_deadline_order_and_on_time() -> None:
    async def main() -> None:
        fired: list[tuple[Hashable, float]] = []
        done = asyncio.Event()
        queue = TimerQueue(lambda key: fired.append((key, time.monotonic())), time.monotonic)
        rng = random.Random(5)
        loop = asyncio.get_running_loop()

        def armed() -> int:  # loop timers not cancelled
            return sum(not h.cancelled() for h in loop._scheduled)  # type: ignore[attr-defined]

        armed_before = armed()
        start = time.monotonic()
        want: dict[Hashable, float] = {}
        # Most share one delay (set in deadline order: the FIFO), the rest anywhere (the heap).
        for i in range(1500):
            at = start + 0.10 + i * 0.00002 if i % 3 else start + rng.uniform(0.02, 0.2)
            queue.set(("t", i), at)
            want[("t", i)] = at
        assert armed() == armed_before + 1  # one loop timer for all of them
        for i in range(0, 1500, 7):  # cancelled: never fire
            queue.cancel(("t", i))
            del want[("t", i)]
        for i in range(1, 1500, 11):  # replaced: fire once, at the new deadline
            if ("t", i) in want:
                want[("t", i)] = start + rng.uniform(0.01, 0.25)
                queue.set(("t", i), want[("t", i)])
        queue.set("last", start + 0.3)
        want["last"] = start + 0.3
        loop.call_later(0.6, done.set)
        await done.wait()
        assert len(queue) == 0
        assert [k for k, _ in fired] == sorted(want, key=lambda k: want[k])
        lateness = [at - want[k] for k, at in fired]
        assert min(lateness) >= 0.0  # never before its deadline
        assert max(lateness) < 0.25  # and promptly (a loaded, shared machine: generous bound)

    run(main())


def test_a_fired_timer_may_set_an_earlier_one_and_a_failing_one_costs_only_itself() -> None:
    async def main() -> None:
        fired: list[Hashable] = []
        clock = time.monotonic

        def fire(key: Hashable) -> None:
            fired.append(key)
            if key == "boom":
                raise RuntimeError("this timer fails")
            if key == "a":  # earlier than "c", which is armed: must still come first
                queue.set("b", clock() + 0.02)

        queue = TimerQueue(fire, clock)
        now = clock()
        queue.set("c", now + 0.2)
        queue.set("boom", now + 0.05)
        queue.set("a", now + 0.05)
        for _ in range(100):
            if len(fired) == 4:
                break
            await asyncio.sleep(0.01)
        assert fired == ["boom", "a", "b", "c"]
        queue.set("never", clock() + 0.01)
        queue.close()
        await asyncio.sleep(0.05)
        assert fired == ["boom", "a", "b", "c"] and len(queue) == 0

    run(main())
