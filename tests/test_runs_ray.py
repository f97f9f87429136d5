"""``--executor ray``: the hf backend asked by a Ray Data job on a local Ray, answers stored as they
come, resumable like a local run, and the same answers as the local executor."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

ray = pytest.importorskip("ray")
pytest.importorskip("transformers")

from cvalues.cli import cli  # noqa: E402
from cvalues.runs import RunStore  # noqa: E402
from cvalues.runs.engine import EXECUTOR  # noqa: E402
from tiny_model import build_tiny_model  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    """A small local Ray (two CPUs, a small object store) for this module only."""
    ray.init(num_cpus=2, object_store_memory=80 * 1024**2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def generate(model_dir: Path, run_dir: Path, limit: int, executor: str) -> str:
    args = ["generate", "--model", f"hf:{model_dir}", "--device", "cpu", "--batch-size", "4",
            "--suite", "responsibility-prompts", "--limit", str(limit), "--max-tokens", "6",
            "--run-dir", str(run_dir), "--no-progress", "--executor", executor]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def answers(run_dir: Path) -> dict[str, tuple]:
    with RunStore(run_dir / "answers.sqlite", readonly=True) as store:
        return {a.item_id: (a.status, a.text, a.completion_tokens) for a in store}


def test_ray_answers_resume_and_match_the_local_executor(mirror, local_ray, tmp_path_factory):
    model_dir = build_tiny_model(tmp_path_factory.mktemp("tiny-ray"))
    run_dir = tmp_path_factory.mktemp("runs") / "ray"
    first = generate(model_dir, run_dir, 20, "ray")
    assert "20 items: 20 answered" in first
    assert len(answers(run_dir)) == 20
    again = generate(model_dir, run_dir, 30, "ray")  # only the 10 new items are sent
    assert "30 answered (20 from earlier sessions, 10 now)" in again
    got = answers(run_dir)
    assert len(got) == 30 and all(status == "ok" for status, _, _ in got.values())
    assert EXECUTOR.get() == "local"  # the option is reset when the command ends

    local_dir = tmp_path_factory.mktemp("runs") / "local"
    generate(model_dir, local_dir, 30, "local")
    assert answers(local_dir) == got  # greedy: the same answers whoever asked
    assert len({text for _, text, _ in got.values()}) > 1
    # a local rerun of the ray run asks nothing: the same keys, the same store
    assert "30 answered (30 from earlier sessions, 0 now)" in generate(model_dir, run_dir, 30, "local")


def test_a_cancelled_ray_run_stops_before_the_job_ends(local_ray, tmp_path_factory):
    """Ctrl-C/SIGTERM cancel the run's task: the Ray results are read on a thread of their own, so the
    event loop acts at once (the answers recorded so far kept), not when the whole job is done."""
    import asyncio

    from cvalues.models.base import GenerationSettings
    from cvalues.models.registry import load_model
    from cvalues.runs import Request, chat_messages, execute_async

    model_dir = build_tiny_model(tmp_path_factory.mktemp("tiny-ray-stop"))
    model = load_model(f"hf:{model_dir}", device="cpu", batch_size=1)
    requests = [Request(f"q{i}", chat_messages(f"第{i}个问题：请回答。")) for i in range(400)]
    store_path = tmp_path_factory.mktemp("runs") / "answers.sqlite"

    async def main() -> int:
        with RunStore(store_path) as store:
            token = EXECUTOR.set("ray")
            try:
                task = asyncio.create_task(
                    execute_async(
                        model,
                        requests,
                        store=store,
                        settings=GenerationSettings(max_tokens=48),
                        progress=False,
                    )
                )
                while store.counts()["ok"] < 2:  # the job is running and answers arrive
                    assert not task.done()
                    await asyncio.sleep(0.05)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=30)
            finally:
                EXECUTOR.reset(token)
            return store.counts()["ok"]

    kept = asyncio.run(main())
    assert 2 <= kept < len(requests)  # stopped mid-job, with what had arrived
    import threading
    import time

    deadline = time.monotonic() + 60  # the reading thread ends the job after the batch it waited for
    while any(t.name == "cvalues-ray-results" for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.1)
