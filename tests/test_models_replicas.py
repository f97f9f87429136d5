"""``hf:`` with ``replicas=N`` on the tiny random llama (tests/tiny_model.py): the same answers as one
process, each replica placed and described, load failures raised as the one-process backend raises
them with no process left, a killed replica failing its batches fatally instead of hanging, and no
replica outliving its parent (closed, stopped mid-run by SIGTERM or Ctrl-C, or killed outright).

Each replica is a spawned interpreter that imports torch (3-8 s here), so the replicated backends
are few and shared by module-scoped fixtures."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("transformers")

from cvalues.cli import cli
from cvalues.models.base import ChatMessage, Generation, GenerationSettings, ModelError
from cvalues.models.hf import HFBackend
from cvalues.models.registry import backend_options, load_model
from cvalues.models.replicas import ReplicatedBackend
from cvalues.runs import RunStore, read_manifest
from cvalues.runs.request import model_fingerprint
from tiny_model import build_tiny_model

ROOT = Path(__file__).resolve().parents[1]
GREEDY = GenerationSettings(max_tokens=10)
PROMPTS = [
    [ChatMessage("user", f"第{i}个问题：" + "如何保护个人隐私？" * (i % 4))]
    if i % 3
    else [ChatMessage("system", "你是一个助手。"), ChatMessage("user", f"Question {i}: the quick fox?")]
    for i in range(20)
]
MC_ITEMS = [
    (
        [ChatMessage("user", f"[问题]：第{i}题{'，请详细回答' * (i % 3)}\n[回复1]和[回复2]哪个回复更好？")],
        ["回复1", "回复2"] if i % 4 else ["回复1更好", "回复2", "不要泄露身份证号。"],
    )
    for i in range(20)
]


def batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody has reaped yet counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def replica_pids(pid: int) -> list[int]:
    """The spawned children of ``pid`` (Linux /proc), not multiprocessing's resource tracker."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"multiprocessing.spawn" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


def wait_until_ended(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-replicas"))


@pytest.fixture(scope="module")
def single(model_dir) -> HFBackend:
    model = load_model(f"hf:{model_dir}", device="cpu", batch_size=4, replicas=1)
    assert isinstance(model, HFBackend)  # one copy is the backend itself, in this process
    return model


@pytest.fixture(scope="module")
def replicated(model_dir):
    model = load_model(f"hf:{model_dir}", device="cpu", batch_size=4, replicas=2)
    assert isinstance(model, ReplicatedBackend)
    yield model
    asyncio.run(model.aclose())
    assert wait_until_ended([r.pid for r in model.replicas], 10) == []


# -- answers -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_replicas_answer_exactly_as_one_process(replicated, single):
    async def generate(model):
        done = await asyncio.gather(*(model.generate_batch(b, GREEDY) for b in batches(PROMPTS, 4)))
        return [g for batch in done for g in batch]

    async def score(model):
        done = await asyncio.gather(*(model.candidate_logprobs_batch(b) for b in batches(MC_ITEMS, 4)))
        return [v for batch in done for v in batch]

    ours, theirs = asyncio.run(generate(replicated)), asyncio.run(generate(single))
    assert all(isinstance(g, Generation) for g in ours + theirs)
    assert [(g.text, g.finish_reason, g.prompt_tokens, g.completion_tokens) for g in ours] == [
        (g.text, g.finish_reason, g.prompt_tokens, g.completion_tokens) for g in theirs
    ]
    assert len({g.text for g in ours}) > 10  # the prompts matter
    scored, reference = asyncio.run(score(replicated)), asyncio.run(score(single))
    for mine, one, (_, candidates) in zip(scored, reference, MC_ITEMS, strict=True):
        assert len(mine) == len(candidates)
        assert mine == pytest.approx(one, abs=1e-5)
    assert all(r.answered >= 2 for r in replicated.replicas)  # both replicas did their share
    assert all(r.in_flight == 0 for r in replicated.replicas)


@pytest.mark.slow
def test_single_requests_and_bad_items_fail_alone(replicated, single):
    one = asyncio.run(replicated.generate(PROMPTS[1], GREEDY))
    assert one.text == asyncio.run(single.generate(PROMPTS[1], GREEDY)).text
    values = asyncio.run(replicated.candidate_logprobs(*MC_ITEMS[1]))
    assert values == pytest.approx(asyncio.run(single.candidate_logprobs(*MC_ITEMS[1])), abs=1e-5)
    with pytest.raises(ValueError, match="distinct"):
        asyncio.run(replicated.candidate_logprobs(MC_ITEMS[0][0], ["回复1", "回复1"]))
    mixed = asyncio.run(replicated.candidate_logprobs_batch([MC_ITEMS[1], (MC_ITEMS[2][0], [])]))
    assert isinstance(mixed[0], list) and isinstance(mixed[1], ModelError)
    assert "at least one candidate" in str(mixed[1]) and not mixed[1].fatal
    assert asyncio.run(replicated.generate_batch([], GREEDY)) == []


@pytest.mark.slow
def test_describe_places_each_replica_and_keeps_the_model_identity(replicated, single):
    facts = replicated.describe()
    assert facts["replicas"] == 2 and facts["device"] == "cpu"
    placement = facts["replica_placement"]
    threads = placement[0]["threads"]  # the cores are split between the replicas
    assert placement == [{"device": "cpu", "threads": threads}] * 2 and facts["threads"] == 2 * threads
    assert 1 <= threads and 2 * threads <= max(2, os.cpu_count() or 1)
    assert facts["dtype"] == "float32" and facts["batch_size"] == 4
    assert facts["num_parameters"] == single.describe()["num_parameters"]
    # answers stored by either are the same answers: a run resumes with or without replicas
    assert model_fingerprint(replicated) == model_fingerprint(single)
    assert replicated.default_concurrency == 4 and replicated.preferred_batch_size == 4
    assert len({r.pid for r in replicated.replicas} | {os.getpid()}) == 3


@pytest.mark.slow
def test_the_ray_executor_refuses_replicas(replicated):
    from cvalues.runs.ray_executor import run_on_ray

    with pytest.raises(ValueError, match=r"replicas=2: the ray executor runs its own pool"):
        asyncio.run(run_on_ray(replicated, [], None))  # type: ignore[arg-type]


# -- options and loading -----------------------------------------------------------------------------


def test_replicas_is_an_hf_option_checked_before_any_process(tmp_path, model_dir):
    before = set(multiprocessing.active_children())  # the shared replicas may be running
    assert backend_options("hf")["replicas"] is None
    with pytest.raises(ValueError, match=r"openai: unknown option\(s\) replicas"):
        load_model("openai:m", replicas=2)
    with pytest.raises(ValueError, match="replicas must be a whole number >= 1, got 0"):
        load_model(f"hf:{model_dir}", replicas=0)
    with pytest.raises(ValueError, match="give device cuda"):
        load_model(f"hf:{model_dir}", replicas=2, device="cuda:1")
    missing = tmp_path / "no-such-model"
    with pytest.raises(ValueError) as one:
        load_model(f"hf:{missing}")
    with pytest.raises(ValueError) as two:
        load_model(f"hf:{missing}", replicas=2)
    assert str(two.value) == str(one.value) and "does not exist" in str(one.value)
    assert set(multiprocessing.active_children()) == before


@pytest.mark.slow
def test_a_replica_that_cannot_load_fails_fast_with_the_same_error(tmp_path, model_dir):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (broken / name).write_bytes((model_dir / name).read_bytes())
    before = set(multiprocessing.active_children())
    (broken / "config.json").write_text('{"model_type": "llama", "hidden_size": ', encoding="utf-8")
    with pytest.raises(ValueError) as one:
        load_model(f"hf:{broken}", device="cpu")
    started = time.monotonic()
    with pytest.raises(ValueError) as two:
        load_model(f"hf:{broken}", device="cpu", replicas=2)
    assert str(two.value) == str(one.value) and str(broken) in str(two.value)
    assert time.monotonic() - started < 60
    assert set(multiprocessing.active_children()) == before  # every replica started was stopped


# -- failures and shutdown ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_replica_fails_its_batches_fatally_and_the_rest_go_on(model_dir):
    before = set(multiprocessing.active_children())
    model = ReplicatedBackend(str(model_dir), replicas=2, device="cpu", batch_size=4, threads=2)
    first, second = model.replicas
    assert (first.threads, second.threads) == (1, 1)  # threads is the total, split between them

    async def main():
        busy = asyncio.ensure_future(model.generate_batch(PROMPTS[:4], GenerationSettings(max_tokens=200)))
        while first.in_flight == 0:  # the batch went to the first replica (least busy, lowest index)
            await asyncio.sleep(0)
        os.kill(first.pid, signal.SIGKILL)
        with pytest.raises(ModelError) as failed:
            await asyncio.wait_for(busy, 30)
        assert failed.value.fatal
        assert "replica 0" in str(failed.value) and "SIGKILL" in str(failed.value)
        after = await model.generate_batch(PROMPTS[4:8], GREEDY)  # the other replica still answers
        assert all(isinstance(g, Generation) for g in after)
        await model.aclose()
        with pytest.raises(ModelError, match="closed") as closed:
            await model.generate_batch(PROMPTS[:1], GREEDY)
        assert closed.value.fatal

    asyncio.run(main())
    assert second.answered == 1 and first.failure is not None
    assert wait_until_ended([first.pid, second.pid], 10) == []
    assert set(multiprocessing.active_children()) == before


PARENT_SCRIPT = """
import json, sys
from cvalues.models.registry import load_model
model = load_model("hf:" + sys.argv[1], device="cpu", replicas=2)
heavy = sorted(m for m in ("torch", "transformers", "numpy") if m in sys.modules)
print(json.dumps({"heavy": heavy, "pids": [r.pid for r in model.replicas]}), flush=True)
sys.stdin.read()
"""


@pytest.mark.slow
def test_the_parent_imports_no_torch_and_its_replicas_end_when_it_is_killed(model_dir):
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT, str(model_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        facts = json.loads(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()
    assert facts["heavy"] == []  # the model lives in the replicas only
    assert len(facts["pids"]) == 2
    assert wait_until_ended(facts["pids"], 10) == []  # killed outright: the replicas notice and exit


def _own_session_with_default_sigint() -> None:
    """The child leads a process group of its own (so the test can signal it and its replicas, as a
    terminal's Ctrl-C does) and handles SIGINT even when this test runs with SIGINT ignored."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the replicas through /proc")
@pytest.mark.parametrize(
    ("signum", "whole_group", "code"),
    [(signal.SIGTERM, False, 143), (signal.SIGINT, True, 130)],
    ids=["sigterm-to-the-command", "ctrl-c-to-the-process-group"],
)
def test_a_signal_during_a_cli_run_stops_every_replica(model_dir, tmp_path, signum, whole_group, code):
    suite, run_dir = tmp_path / "prompts.jsonl", tmp_path / "run"
    lines = [
        json.dumps({"id": f"p{i}", "text": f"第{i}个问题：你怎么看？"}, ensure_ascii=False)
        for i in range(400)
    ]
    suite.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    args = ["generate", "--model", f"hf:{model_dir}", "--device", "cpu", "--replicas", "2",
            "--batch-size", "2", "--max-tokens", "64", "--suite", str(suite), "--run-dir", str(run_dir),
            "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "cvalues", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_own_session_with_default_sigint,
    )
    try:
        deadline, saved = time.monotonic() + 120, 0
        while saved < 4:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            if (run_dir / "answers.sqlite").exists():
                try:
                    with RunStore(run_dir / "answers.sqlite", readonly=True) as store:
                        saved = store.count()
                except Exception:  # created, its schema not yet committed
                    pass
            time.sleep(0.05)
        replicas = replica_pids(proc.pid)
        assert len(replicas) == 2
        if whole_group:  # the replicas get it too, and leave the decision to the command
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, out + err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert f"interrupted by {signal.Signals(signum).name}" in err, err
    assert wait_until_ended(replicas, 10) == []
    manifest = read_manifest(run_dir)
    assert manifest["model"]["describe"]["replicas"] == 2
    assert manifest["sessions"][-1]["status"] == "interrupted"


def test_replicas_and_the_ray_executor_do_not_combine(model_dir, tmp_path):
    suite = tmp_path / "prompts.jsonl"
    suite.write_text('{"id": "p1", "text": "你好"}\n', encoding="utf-8")
    args = ["generate", "--model", f"hf:{model_dir}", "--replicas", "2", "--executor", "ray",
            "--suite", str(suite), "--run-dir", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
    before = set(multiprocessing.active_children())
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "--replicas and --executor ray do not combine" in result.output
    assert set(multiprocessing.active_children()) == before
